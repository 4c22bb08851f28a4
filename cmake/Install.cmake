# What `cmake --install` puts where; the Debian package (debian/rules) uses
# these rules with prefix /usr and CALLREADY_SYSTEMD_UNIT_DIR=/lib/systemd/system.
include(GNUInstallDirs)
set(CALLREADY_SYSTEMD_UNIT_DIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
    CACHE PATH "Where the systemd units are installed")

if(CALLREADY_PREBUILT_BINARY)
  install(PROGRAMS ${CALLREADY_PREBUILT_BINARY} DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME callready)
else()
  install(TARGETS callready RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_SOURCE_DIR}/packaging/callready.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/bash-completion/callready
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/packaging/callready-scan-and-rotate
        DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/callready RENAME scan-and-rotate)
install(FILES
        ${CMAKE_SOURCE_DIR}/packaging/systemd/callready-respond.service
        ${CMAKE_SOURCE_DIR}/packaging/systemd/callready-scan.service
        ${CMAKE_SOURCE_DIR}/packaging/systemd/callready-scan.timer
        ${CMAKE_SOURCE_DIR}/packaging/systemd/callready-exporter.service
        DESTINATION ${CALLREADY_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/etc/respond.conf ${CMAKE_SOURCE_DIR}/packaging/etc/scan.conf
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/callready)
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/callready/modules)

# tests/package/: the package built, installed, used and purged (root; it
# builds the callready target a second time, so it gets a long timeout).
if(CALLREADY_TESTS)
  enable_testing()
  file(GLOB package_tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/package/*_test.sh)
  foreach(script ${package_tests})
    get_filename_component(name ${script} NAME_WE)
    add_test(NAME package:${name} COMMAND bash ${script})
    set_tests_properties(package:${name} PROPERTIES
      LABELS package SKIP_RETURN_CODE 77 TIMEOUT 2400 RUN_SERIAL TRUE
      ENVIRONMENT "CALLREADY=$<TARGET_FILE:callready>;SOURCE_DIR=${CMAKE_SOURCE_DIR};BUILD_DIR=${CMAKE_BINARY_DIR}")
  endforeach()
endif()
