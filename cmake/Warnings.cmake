# fairway_warnings(target): the project's warning set; errors when FAIRWAY_WERROR is on (CI).
function(fairway_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wnull-dereference -Wimplicit-fallthrough)
  if(FAIRWAY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
