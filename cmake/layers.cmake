# One static library per source folder ("layer"), linked only to the layers
# it declares below it (docs/design.md, "Architecture"):
#
#   dfl_layer(NAME SOURCES ... DEPS layer ... [LIBS external ...])
#
# creates dfl_NAME from SOURCES, links it PUBLIC to dfl_<dep> for each DEPS
# entry and to LIBS, and records the layer and its dependencies in
# ${CMAKE_BINARY_DIR}/layers.txt (read by tests/unit/arch). It also builds
# dfl_linkcheck_NAME, a shared object holding every object of the layer
# linked with -Wl,--no-undefined against the declared layers only: a call
# into a layer that is not below fails the build there, not at run time.
set(DFL_LAYERS_FILE ${CMAKE_BINARY_DIR}/layers.txt)
file(WRITE ${DFL_LAYERS_FILE} "")
set(DFL_ALL_LAYERS "" CACHE INTERNAL "")
option(DYNFILL_LINK_CHECK "Build the per-layer link checks (dfl_linkcheck_*)" ON)

function(dfl_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  add_library(dfl_${name} STATIC ${L_SOURCES})
  target_include_directories(dfl_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/kernels
    ${PROJECT_SOURCE_DIR}/host)
  target_compile_options(dfl_${name} PRIVATE $<$<COMPILE_LANGUAGE:C>:${DFL_WARN}>)
  set(deps "")
  foreach(d ${L_DEPS})
    list(APPEND deps dfl_${d})
  endforeach()
  target_link_libraries(dfl_${name} PUBLIC ${deps} ${L_LIBS})
  file(APPEND ${DFL_LAYERS_FILE} "${name}: ${L_DEPS}\n")
  set(DFL_ALL_LAYERS ${DFL_ALL_LAYERS} dfl_${name} CACHE INTERNAL "")
  if(DYNFILL_LINK_CHECK AND NOT DYNFILL_SANITIZE)
    add_library(dfl_linkcheck_${name} SHARED ${PROJECT_SOURCE_DIR}/cmake/linkcheck.c)
    target_link_libraries(dfl_linkcheck_${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,dfl_${name}>")
    target_link_options(dfl_linkcheck_${name} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
