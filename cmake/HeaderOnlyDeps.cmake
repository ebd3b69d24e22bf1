# The header-only dependencies: nlohmann_json, Eigen3, Spectra and CLI11 (Debian packages
# nlohmann-json3-dev, libeigen3-dev, libspectra-dev, libcli11-dev). Found through their CMake
# configs; where those are absent (a foreign machine with the packages only
# unpacked, see bench/gpu.sh), through LANDSCAPE_DEPS_PREFIX/usr/include.
function(_landscape_header_only target header)
  if(TARGET ${target})
    return()
  endif()
  set(_dirs)
  if(LANDSCAPE_DEPS_PREFIX)
    list(APPEND _dirs "${LANDSCAPE_DEPS_PREFIX}/usr/include" "${LANDSCAPE_DEPS_PREFIX}/usr/include/eigen3")
  endif()
  find_path(_inc_${header} NAMES ${header} PATHS ${_dirs} /usr/include /usr/include/eigen3 NO_CACHE)
  if(NOT _inc_${header})
    message(FATAL_ERROR "${target}: cannot find ${header} (install the Debian package, or set LANDSCAPE_DEPS_PREFIX)")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_inc_${header}}")
  message(STATUS "${target}: headers in ${_inc_${header}}")
endfunction()

find_package(nlohmann_json CONFIG QUIET)
find_package(Eigen3 CONFIG QUIET)
find_package(Spectra CONFIG QUIET)
find_package(CLI11 CONFIG QUIET)
_landscape_header_only(nlohmann_json::nlohmann_json nlohmann/json.hpp)
_landscape_header_only(Eigen3::Eigen Eigen/Dense)
_landscape_header_only(Spectra::Spectra Spectra/SymEigsSolver.h)
_landscape_header_only(CLI11::CLI11 CLI/CLI.hpp)
