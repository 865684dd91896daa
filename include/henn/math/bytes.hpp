// The byte writer and the bounds-checked byte reader behind every binary format of henn (CKKS
// objects, Paillier keys and ciphertexts): fixed-width little-endian integers, doubles, raw byte
// runs. The reader never reads past its span; when the bytes run out it calls the format's own
// failure function, so each layer keeps its typed error (ckks::SerializationError,
// paillier::PaillierError, ...).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "henn/error.hpp"

namespace henn::math {

// Bit packing (the CKKS residue format): `count` values below 2^bits, 1 <= bits <= 64, value i in
// bits [i * bits, (i + 1) * bits) of the bytes, least significant bit first. A 128-bit window
// moves whole 64-bit words instead of one byte at a time (tests check it against a bit-by-bit
// reference).
inline std::size_t packed_bytes(std::size_t count, int bits) {
    return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

// Writes packed_bytes(count, bits) bytes to `out`; the bits of a value above `bits` are ignored.
inline void pack_bits(const std::uint64_t* values, std::size_t count, int bits, std::uint8_t* out) {
    using Window = unsigned __int128;
    const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    Window window = 0;
    int filled = 0;  // bits waiting in the window, always < 64 between values
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) {
        window |= static_cast<Window>(values[i] & mask) << filled;
        filled += bits;
        if (filled >= 64) {
            const auto word = static_cast<std::uint64_t>(window);
            std::memcpy(out + at, &word, 8);
            at += 8;
            window >>= 64;
            filled -= 64;
        }
    }
    for (; filled > 0; filled -= 8) {
        out[at++] = static_cast<std::uint8_t>(window);
        window >>= 8;
    }
}

// Reads `count` values from packed_bytes(count, bits) bytes at `in`.
inline void unpack_bits(const std::uint8_t* in, std::size_t count, int bits,
                        std::uint64_t* values) {
    using Window = unsigned __int128;
    const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    const std::size_t size = packed_bytes(count, bits);
    Window window = 0;
    int filled = 0;  // < bits before a refill, so a whole word always fits
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) {
        while (filled < bits) {
            if (at + 8 <= size) {
                std::uint64_t word;
                std::memcpy(&word, in + at, 8);
                window |= static_cast<Window>(word) << filled;
                at += 8;
                filled += 64;
            } else {
                window |= static_cast<Window>(in[at++]) << filled;
                filled += 8;
            }
        }
        values[i] = static_cast<std::uint64_t>(window) & mask;
        window >>= bits;
        filled -= bits;
    }
}

class ByteWriter {
  public:
    void u8(std::uint8_t v) { bytes_.push_back(v); }
    void u16(std::uint16_t v) { little_endian(v, 2); }
    void u32(std::uint32_t v) { little_endian(v, 4); }
    void u64(std::uint64_t v) { little_endian(v, 8); }
    void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
    void raw(const void* data, std::size_t size) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        bytes_.insert(bytes_.end(), p, p + size);
    }
    void raw(std::span<const std::uint8_t> data) {
        bytes_.insert(bytes_.end(), data.begin(), data.end());
    }
    // `size` zero bytes appended; returns where they start (for formats that fill them in place).
    std::size_t grow(std::size_t size) {
        const std::size_t start = bytes_.size();
        bytes_.resize(start + size, 0);
        return start;
    }
    std::size_t size() const { return bytes_.size(); }
    std::vector<std::uint8_t>& bytes() { return bytes_; }
    std::vector<std::uint8_t> take() { return std::move(bytes_); }

  private:
    void little_endian(std::uint64_t v, int width) {
        for (int i = 0; i < width; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> bytes_;
};

class ByteReader {
  public:
    // Must throw (the format's typed error); called with what went wrong.
    using FailFunction = std::function<void(const std::string& message)>;

    ByteReader(std::span<const std::uint8_t> bytes, FailFunction fail)
        : bytes_(bytes), fail_(std::move(fail)) {}

    std::uint8_t u8() { return static_cast<std::uint8_t>(little_endian(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(little_endian(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(little_endian(4)); }
    std::uint64_t u64() { return little_endian(8); }
    double f64() { return std::bit_cast<double>(u64()); }
    void raw(void* out, std::size_t size) {
        need(size);
        if (size > 0) std::memcpy(out, bytes_.data() + position_, size);
        position_ += size;
    }
    // The next `size` bytes, without copying.
    std::span<const std::uint8_t> bytes(std::size_t size) {
        need(size);
        const auto view = bytes_.subspan(position_, size);
        position_ += size;
        return view;
    }
    // Fails unless `size` more bytes are there.
    void need(std::size_t size) const {
        if (size > remaining()) {
            fail("truncated data: needed " + std::to_string(size) + " bytes at offset " +
                 std::to_string(position_) + ", only " + std::to_string(remaining()) + " left");
        }
    }
    std::size_t remaining() const { return bytes_.size() - position_; }
    std::size_t position() const { return position_; }
    void expect_end() const {
        if (remaining() != 0) fail(std::to_string(remaining()) + " unexpected trailing bytes");
    }
    [[noreturn]] void fail(const std::string& message) const {
        fail_(message);
        throw InternalError("ByteReader: the failure function returned");  // it must throw
    }

  private:
    std::uint64_t little_endian(int width) {
        need(static_cast<std::size_t>(width));
        std::uint64_t v = 0;
        for (int i = 0; i < width; ++i) v |= std::uint64_t{bytes_[position_ + i]} << (8 * i);
        position_ += static_cast<std::size_t>(width);
        return v;
    }
    std::span<const std::uint8_t> bytes_;
    std::size_t position_ = 0;
    FailFunction fail_;
};

}  // namespace henn::math
