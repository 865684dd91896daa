// Every loader of untrusted bytes (fuzz/untrusted_loaders.hpp) fed its valid seeds, then
// truncated and corrupted copies from a fixed seed: each must load or throw a henn::Error, never
// crash or throw anything else. The fuzz targets explore further; this keeps what they found.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "untrusted_all.hpp"

namespace henn::fuzz {
namespace {

enum class Outcome { accepted, rejected, wrong_exception };

Outcome feed(const UntrustedLoader& loader, std::span<const std::uint8_t> bytes,
             std::string& what) {
    try {
        loader.load(bytes);
        return Outcome::accepted;
    } catch (const Error&) {
        return Outcome::rejected;
    } catch (const std::exception& e) {
        what = e.what();
        return Outcome::wrong_exception;
    }
}

// Damaged copies of `seed`: one byte changed, a byte set to 0x00 or 0xff, random bytes
// inserted, a range deleted or duplicated.
Bytes mutate(const Bytes& seed, std::mt19937_64& rng) {
    Bytes b = seed;
    auto at = [&](std::size_t n) {
        return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n);
    };
    switch (rng() % 6) {
        case 0:
            if (!b.empty()) b[at(b.size())] ^= static_cast<std::uint8_t>(1 + rng() % 255);
            break;
        case 1:
            if (!b.empty()) b[at(b.size())] = 0x00;
            break;
        case 2:
            if (!b.empty()) b[at(b.size())] = 0xff;
            break;
        case 3: {
            const std::size_t pos = at(b.size() + 1);
            Bytes extra(1 + rng() % 16);
            for (auto& x : extra) x = static_cast<std::uint8_t>(rng());
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), extra.begin(), extra.end());
            break;
        }
        case 4: {
            const std::size_t pos = at(b.size());
            const std::size_t len = std::min<std::size_t>(b.size() - pos, 1 + rng() % 32);
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos),
                    b.begin() + static_cast<std::ptrdiff_t>(pos + len));
            break;
        }
        default: {
            const std::size_t pos = at(b.size());
            const std::size_t len = std::min<std::size_t>(b.size() - pos, 1 + rng() % 32);
            const Bytes copy(b.begin() + static_cast<std::ptrdiff_t>(pos),
                             b.begin() + static_cast<std::ptrdiff_t>(pos + len));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), copy.begin(), copy.end());
        }
    }
    return b;
}

class UntrustedBytes : public ::testing::TestWithParam<std::string> {};

const UntrustedLoader& loader_named(const std::string& name) {
    static const auto all = all_untrusted_loaders(HENN_ONNX_FIXTURES);
    for (const auto& l : all) {
        if (l.name == name) return l;
    }
    throw InternalError("no loader " + name);
}

TEST_P(UntrustedBytes, SeedsLoadAndDamageIsATypedError) {
    const UntrustedLoader& loader = loader_named(GetParam());
    const std::vector<Bytes> seeds = loader.seeds();
    ASSERT_FALSE(seeds.empty());
    // A CSV cut at a line break is still a valid (shorter) table, a protobuf message cut between
    // fields a valid message; every other format announces its size or structure, so every proper
    // prefix must be refused.
    const bool prefixes_invalid = loader.prefixes_refused;
    std::mt19937_64 rng(15);
    std::string what;
    for (const Bytes& seed : seeds) {
        ASSERT_EQ(feed(loader, seed, what), Outcome::accepted)
            << loader.name << ": a valid seed was refused";
        // Truncations at ~40 points spread over the seed, and the empty input.
        const std::size_t step = std::max<std::size_t>(1, seed.size() / 40);
        for (std::size_t cut = 0; cut < seed.size(); cut += step) {
            const Outcome o = feed(loader, std::span(seed).first(cut), what);
            ASSERT_NE(o, Outcome::wrong_exception)
                << loader.name << " cut at " << cut << ": untyped error " << what;
            if (prefixes_invalid) {
                EXPECT_EQ(o, Outcome::rejected)
                    << loader.name << ": prefix of " << cut << " bytes accepted";
            }
        }
        int rejected = 0;
        for (int t = 0; t < 60; ++t) {
            const Bytes damaged = mutate(seed, rng);
            const Outcome o = feed(loader, damaged, what);
            ASSERT_NE(o, Outcome::wrong_exception)
                << loader.name << " mutation " << t << ": untyped error " << what;
            rejected += o == Outcome::rejected;
        }
        EXPECT_GT(rejected, 0) << loader.name << ": no damaged copy was refused";
    }
}

// The committed corpus of the loader's fuzz target (fuzz/corpus/<name>): minimized inputs that
// reached new code, and every input that once crashed a loader (crash-*), fixed since.
TEST_P(UntrustedBytes, CommittedCorpusLoadsOrIsATypedError) {
    const UntrustedLoader& loader = loader_named(GetParam());
    const std::filesystem::path dir = std::filesystem::path(HENN_FUZZ_CORPUS) / loader.name;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no committed corpus " << dir;
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::string what;
        const Outcome o = feed(loader, read_bytes(entry.path()), what);
        EXPECT_NE(o, Outcome::wrong_exception) << entry.path() << ": untyped error " << what;
        ++files;
    }
    EXPECT_GT(files, 0u) << "empty corpus " << dir;
}

std::vector<std::string> loader_names() {
    std::vector<std::string> names;
    for (const auto& l : all_untrusted_loaders(HENN_ONNX_FIXTURES)) names.push_back(l.name);
    return names;
}

INSTANTIATE_TEST_SUITE_P(Loaders, UntrustedBytes, ::testing::ValuesIn(loader_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace henn::fuzz
