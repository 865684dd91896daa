# cmake -DINPUT=file -DOUTPUT=file.cpp -P EmbedFile.cmake: writes a C++ function returning the
# bytes of INPUT (henn::cli::bundled_demo_model).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" length)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; do not edit.\n#include <cstdint>\n#include <vector>\n"
     "namespace henn::cli {\nstd::vector<std::uint8_t> bundled_demo_model() {\n"
     "    static const unsigned char bytes[] = {\n${bytes}};\n"
     "    return std::vector<std::uint8_t>(bytes, bytes + sizeof bytes);\n}\n}  // namespace henn::cli\n")
