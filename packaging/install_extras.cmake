# Runs at install time (see install.cmake): man pages from the built binary's --help, and the
# systemd units with ExecStart at ${CMAKE_INSTALL_PREFIX}/bin/safehold. DESTDIR is honoured by
# file(INSTALL).
file(REMOVE_RECURSE "${SAFEHOLD_WORK_DIR}/man" "${SAFEHOLD_WORK_DIR}/systemd")
execute_process(
  COMMAND python3 "${SAFEHOLD_SOURCE_DIR}/packaging/gen_man.py" "${SAFEHOLD_BINARY}"
          "${SAFEHOLD_WORK_DIR}/man"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "man pages: packaging/gen_man.py failed (${rc})")
endif()
file(GLOB pages "${SAFEHOLD_WORK_DIR}/man/*.1")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${SAFEHOLD_MANDIR}/man1" TYPE FILE FILES ${pages})

file(GLOB units "${SAFEHOLD_SOURCE_DIR}/docs/systemd/*.service" "${SAFEHOLD_SOURCE_DIR}/docs/systemd/*.timer")
set(made)
foreach(unit ${units})
  get_filename_component(name "${unit}" NAME)
  file(READ "${unit}" text)
  string(REPLACE "/usr/local/bin/safehold" "${CMAKE_INSTALL_PREFIX}/${SAFEHOLD_BINDIR}/safehold" text "${text}")
  file(WRITE "${SAFEHOLD_WORK_DIR}/systemd/${name}" "${text}")
  list(APPEND made "${SAFEHOLD_WORK_DIR}/systemd/${name}")
endforeach()
if(made)
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE FILES ${made})
endif()
