# Installation (GNUInstallDirs) and the Debian package (CPack's DEB generator; make deb).
#
# `cmake --install build --prefix /usr` and the package lay out the same files:
#   sbin/kahttpd                             the server
#   share/man/man8/kahttpd.8.gz              the manual page (docs/kahttpd.8)
#   share/doc/kahttpd/                       README, configuration, status, deployment
#   share/kahttpd/www/                       the default site (copied to /var/www/html by the
#                                            package's postinst when that folder is empty)
#   /etc/kahttpd/httpd.conf                  contrib/debian/httpd.conf; never overwritten by
#                                            cmake --install once it exists
#   /etc/logrotate.d/kahttpd, /lib/systemd/system/kahttpd.{service,socket}
# The binary does not depend on the prefix: it falls back to KAHTTPD_DEFAULT_CONFIG.

include(GNUInstallDirs)

# Installing (and so CPack, which test_package.py runs while other tests use the build) never
# builds: `make deb` builds first, and `cmake --install` never did.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(KAHTTPD_DEB_DIR ${PROJECT_SOURCE_DIR}/contrib/debian)

install(TARGETS kahttpd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
              ${PROJECT_SOURCE_DIR}/docs/status.md ${PROJECT_SOURCE_DIR}/docs/deployment.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/www/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kahttpd/www)

# The manual page, with the version and the configuration path filled in, compressed as
# Debian wants it (gzip -n: no name or time stamp, so the package is reproducible).
configure_file(${PROJECT_SOURCE_DIR}/docs/kahttpd.8 ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8 @ONLY)
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8.gz
    COMMAND gzip -9nf -k ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8
    DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8
    COMMENT "Compressing the manual page")
add_custom_target(kahttpd_man ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8.gz)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kahttpd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# System paths outside the prefix, as Debian's packages of apache2 and nginx have them.
install(FILES ${PROJECT_SOURCE_DIR}/contrib/kahttpd.service
              ${PROJECT_SOURCE_DIR}/contrib/kahttpd.socket
        DESTINATION /lib/systemd/system)
install(FILES ${KAHTTPD_DEB_DIR}/kahttpd.logrotate DESTINATION /etc/logrotate.d
        RENAME kahttpd)
install(DIRECTORY DESTINATION /etc/kahttpd/conf.d)
# An edited configuration survives `cmake --install`; the package's staging folder never has
# one, so the package always carries it (as a conffile: dpkg keeps local edits).
install(CODE "
    if(NOT EXISTS \"\$ENV{DESTDIR}/etc/kahttpd/httpd.conf\")
        file(INSTALL \"${KAHTTPD_DEB_DIR}/httpd.conf\" DESTINATION \"/etc/kahttpd\")
    else()
        message(STATUS \"Kept: \$ENV{DESTDIR}/etc/kahttpd/httpd.conf\")
    endif()")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kahttpd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "kahttpd developers <kahttpd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "static HTTP/1.1 web server built around keep-alive")
set(CPACK_PACKAGE_DESCRIPTION "kahttpd serves static sites over HTTP/1.1 with persistent \
connections, configured with Apache httpd's directives (VirtualHost, Directory, \
KeepAliveTimeout, CustomLog ...).")
# Absolute destinations (/etc, /lib/systemd) go through DESTDIR into the package; with DESTDIR,
# CPack installs under CPACK_INSTALL_PREFIX, whatever prefix the build was configured with.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries it links (libuv1, zlib1g, libbrotli1, libpcre2-8-0, libsystemd0, libc)
# from dpkg-shlibdeps; /etc/mime.types from media-types.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "media-types | mime-support")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_PROVIDES "httpd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${KAHTTPD_DEB_DIR}/conffiles ${KAHTTPD_DEB_DIR}/postinst ${KAHTTPD_DEB_DIR}/prerm
    ${KAHTTPD_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
