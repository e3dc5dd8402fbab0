# Warnings for berth's own code only; errors where berth is developed and tested (tools/build
# turns BERTH_WERROR on), not for whoever builds a release with another compiler. Included by
# the top-level project and by the load generator when it is built on its own.
option(BERTH_WERROR "Treat warnings in berth's own code as errors" OFF)
function(berth_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  if(BERTH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
