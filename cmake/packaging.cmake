# packaging.cmake - `cmake --install` and `cpack -G DEB`: mqchat installed where Debian's mosquitto
# finds it (docs/deploy.md, "Installing the Debian package").
#
#   <libdir>/mqchat/mqchat.so                the plugin (Debian: /usr/lib/<multiarch>/mqchat/)
#   /etc/mosquitto/conf.d/mqchat.conf        loads it; read by Debian's mosquitto.conf include_dir
#   <datadir>/mqchat/web/                    the browser client, when it was built
#   <bindir>/...                             the command-line tools, when they are built
#   <docdir>/                                README, protocol, deployment, mosquitto.conf.example
#
# The database lives in /var/lib/mosquitto, which Debian's mosquitto package creates for the
# `mosquitto` user the broker drops to before it loads plugins, so the package creates nothing there.
include(GNUInstallDirs)

set(MQCHAT_PLUGIN_PATH ${CMAKE_INSTALL_FULL_LIBDIR}/mqchat/mqchat.so)
set(MQCHAT_DOC_DIR ${CMAKE_INSTALL_FULL_DATADIR}/doc/mqchat)
set(MQCHAT_WEB_INSTALL_DIR ${CMAKE_INSTALL_FULL_DATADIR}/mqchat/web)
# Mosquitto reads /etc/mosquitto whatever the prefix (GNUInstallDirs maps /usr's sysconfdir to /etc).
set(MQCHAT_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/mosquitto/conf.d)
configure_file(${CMAKE_SOURCE_DIR}/packaging/mqchat.conf.in ${CMAKE_BINARY_DIR}/packaging/mqchat.conf @ONLY)

install(TARGETS mqchat LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/mqchat)
install(FILES ${CMAKE_BINARY_DIR}/packaging/mqchat.conf DESTINATION ${MQCHAT_CONF_DIR})
install(FILES README.md docs/protocol.md docs/deploy.md docs/security.md docs/operations.md
              docs/client-library.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES mosquitto.conf DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME mosquitto.conf.example)
if(MQCHAT_WEB_BUILT)
  install(DIRECTORY ${CMAKE_BINARY_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mqchat/web
          PATTERN "*.map" EXCLUDE)
endif()
# Tools that exist in this tree are installed beside the plugin (each target, when it is built).
foreach(tool mqchat_ctrl mqchat-cli)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# The .deb: `cpack -G DEB` in the build directory (configured with -DCMAKE_INSTALL_PREFIX=/usr).
set(CPACK_PACKAGE_NAME mqchat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "mqchat maintainers <mqchat@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "team chat as a plugin for the Mosquitto MQTT broker")
set(CPACK_PACKAGE_DESCRIPTION
    "mqchat adds Slack-style channels, direct messages and a durable, sequenced history to a \
Mosquitto broker: clients speak MQTT 3.1.1 or 5 (or MQTT over WebSocket from the bundled browser \
client), and the plugin stores every message in SQLite before the broker delivers it.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The libraries the plugin links come from dpkg-shlibdeps; the broker it plugs into is named here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "mosquitto (>= 2.0.11)")
# conf.d/mqchat.conf is a conffile: an upgrade keeps the operator's edits, a purge removes it.
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "${MQCHAT_CONF_DIR}/mqchat.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_GENERATOR DEB)
include(CPack)
