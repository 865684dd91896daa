// Bit packing (math::pack_bits / unpack_bits) against a bit-by-bit reference, for every width.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "henn/math/bytes.hpp"

namespace henn::math {
namespace {

// The format spelled out one bit at a time: bit j of value i is bit i * bits + j of the stream.
std::vector<std::uint8_t> pack_reference(const std::vector<std::uint64_t>& values, int bits) {
    std::vector<std::uint8_t> out(packed_bytes(values.size(), bits), 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
        for (int j = 0; j < bits; ++j) {
            const std::size_t bit = i * static_cast<std::size_t>(bits) + j;
            if ((values[i] >> j) & 1) out[bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8));
        }
    }
    return out;
}

std::vector<std::uint64_t> unpack_reference(const std::vector<std::uint8_t>& bytes,
                                            std::size_t count, int bits) {
    std::vector<std::uint64_t> values(count, 0);
    for (std::size_t i = 0; i < count; ++i) {
        for (int j = 0; j < bits; ++j) {
            const std::size_t bit = i * static_cast<std::size_t>(bits) + j;
            if ((bytes[bit / 8] >> (bit % 8)) & 1) values[i] |= std::uint64_t{1} << j;
        }
    }
    return values;
}

TEST(BitPacking, MatchesTheBitByBitReferenceForEveryWidth) {
    std::mt19937_64 rng(7);
    for (int bits = 1; bits <= 64; ++bits) {
        const std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
        for (std::size_t count : {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000}) {
            std::vector<std::uint64_t> values(count);
            for (auto& v : values) v = rng() & mask;
            if (count > 2) values[1] = mask;  // all ones next to a zero
            if (count > 2) values[2] = 0;
            const auto expected = pack_reference(values, bits);
            std::vector<std::uint8_t> packed(packed_bytes(count, bits), 0xAA);
            pack_bits(values.data(), count, bits, packed.data());
            ASSERT_EQ(packed, expected) << bits << " bits, " << count << " values";

            std::vector<std::uint64_t> back(count, 0xDEAD);
            unpack_bits(packed.data(), count, bits, back.data());
            ASSERT_EQ(back, values) << bits << " bits, " << count << " values";
        }
    }
}

TEST(BitPacking, HighBitsOfAValueAreIgnoredAndArbitraryBytesUnpackLikeTheReference) {
    std::mt19937_64 rng(11);
    for (int bits : {5, 30, 45, 61, 62}) {
        std::vector<std::uint64_t> values(77);
        for (auto& v : values) v = rng();  // wider than `bits`
        std::vector<std::uint8_t> packed(packed_bytes(values.size(), bits));
        pack_bits(values.data(), values.size(), bits, packed.data());
        EXPECT_EQ(packed, pack_reference(values, bits));

        std::vector<std::uint8_t> noise(packed_bytes(values.size(), bits));
        for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
        std::vector<std::uint64_t> out(values.size());
        unpack_bits(noise.data(), out.size(), bits, out.data());
        EXPECT_EQ(out, unpack_reference(noise, out.size(), bits));
    }
}

}  // namespace
}  // namespace henn::math
