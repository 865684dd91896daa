// Writes the valid seeds of every loader in untrusted_loaders.hpp: DIR/<loader>/seed-<k>.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "untrusted_all.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: henn_fuzz_untrusted_corpus DIR\n";
        return 2;
    }
    const std::filesystem::path root = argv[1];
    int count = 0;
    for (const auto& loader : henn::fuzz::all_untrusted_loaders(HENN_ONNX_FIXTURES)) {
        std::filesystem::create_directories(root / loader.name);
        int k = 0;
        for (const auto& seed : loader.seeds()) {
            std::ofstream out(root / loader.name / ("seed-" + std::to_string(k++)),
                              std::ios::binary);
            out.write(reinterpret_cast<const char*>(seed.data()),
                      static_cast<std::streamsize>(seed.size()));
            ++count;
        }
    }
    std::cout << "wrote " << count << " seeds under " << root << "\n";
    return 0;
}
