# Writes the source that carries berth's version and the commit it is built from. Run at every
# build (the berth_version target); configure_file rewrites the output only when it changes, so
# only that one file recompiles after a new commit.
#   cmake -DSOURCE_DIR=... -DVERSION=... -DIN=... -DOUT=... -P version.cmake
execute_process(
  COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE BERTH_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE failed)
if(failed OR BERTH_COMMIT STREQUAL "")
  set(BERTH_COMMIT "unknown")  # not built from a git checkout
endif()
set(BERTH_VERSION ${VERSION})
configure_file(${IN} ${OUT} @ONLY)
