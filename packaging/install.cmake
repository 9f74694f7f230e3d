# `cmake --install`: the binary, man pages made from its --help, the systemd units (their
# ExecStart pointing at the installed binary) and the documentation. Paths follow the install
# prefix given at install time (`cmake --install BUILD --prefix /usr`), so one build serves a
# /usr/local install and the Debian package (packaging/build-deb.sh).
include(GNUInstallDirs)
install(TARGETS safehold RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "systemd" EXCLUDE)
install(CODE "
  set(SAFEHOLD_BINARY \"$<TARGET_FILE:safehold>\")
  set(SAFEHOLD_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(SAFEHOLD_WORK_DIR \"${CMAKE_BINARY_DIR}/packaging\")
  set(SAFEHOLD_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(SAFEHOLD_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
")
install(SCRIPT ${PROJECT_SOURCE_DIR}/packaging/install_extras.cmake)
