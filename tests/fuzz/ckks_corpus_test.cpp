// The committed corpus of every CKKS fuzz target (fuzz/corpus/<loader>), replayed against the fuzz
// context: each input loads or is refused with a SerializationError, never a crash or another
// exception. Inputs that once crashed a loader are kept there as crash-* files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "ckks_loaders.hpp"
#include "fuzz_context.hpp"
#include "henn/ckks/errors.hpp"

namespace henn::fuzz {
namespace {

class CkksCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(CkksCorpus, EveryInputLoadsOrIsASerializationError) {
    static const ckks::ContextPtr ctx = fuzz_context();
    const CkksLoader* loader = nullptr;
    static const auto all = ckks_loaders();
    for (const auto& l : all) {
        if (l.name == GetParam()) loader = &l;
    }
    ASSERT_NE(loader, nullptr);
    const std::filesystem::path dir = std::filesystem::path(HENN_FUZZ_CORPUS) / loader->name;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no committed corpus " << dir;
    std::size_t files = 0, accepted = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                              std::istreambuf_iterator<char>());
        try {
            loader->load(*ctx, bytes);
            ++accepted;
        } catch (const ckks::SerializationError&) {
        } catch (const std::exception& e) {
            ADD_FAILURE() << entry.path() << ": not a SerializationError: " << e.what();
        }
        ++files;
    }
    EXPECT_GT(files, 0u) << "empty corpus " << dir;
    // The corpus starts from valid objects (henn_fuzz_corpus), so some of it must load.
    EXPECT_GT(accepted, 0u) << "nothing in " << dir << " loads";
}

std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const auto& l : ckks_loaders()) out.push_back(l.name);
    return out;
}

INSTANTIATE_TEST_SUITE_P(Loaders, CkksCorpus, ::testing::ValuesIn(names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace henn::fuzz
