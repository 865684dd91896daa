# henn_add_layer_subdirectories(): adds every subfolder of the current source folder that has a
# CMakeLists.txt and whose name is a layer enabled by HENN_ONLY_LAYERS (all when it is empty).
# Used by tests/ and bench/, whose subfolders are named after the layers they exercise.
function(henn_add_layer_subdirectories)
  file(GLOB dirs LIST_DIRECTORIES true "${CMAKE_CURRENT_SOURCE_DIR}/*")
  foreach(dir IN LISTS dirs)
    get_filename_component(layer "${dir}" NAME)
    if(HENN_ONLY_LAYERS AND NOT layer IN_LIST HENN_ONLY_LAYERS)
      continue()
    endif()
    if(IS_DIRECTORY "${dir}" AND EXISTS "${dir}/CMakeLists.txt")
      add_subdirectory("${dir}")
    endif()
  endforeach()
endfunction()
