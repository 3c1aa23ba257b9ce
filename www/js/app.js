// Shows when the page was rendered, proof that the script was served and ran.
(function () {
  var el = document.getElementById("loaded-at");
  if (el) {
    el.textContent = "page loaded at " + new Date().toLocaleTimeString();
  }
})();
