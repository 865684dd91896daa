// Private to henn_engine: little-endian writer and a bounds-checked reader for the engine's
// containers (compiled models, key bundles, ciphertext bundles). The reader treats its input as
// untrusted: every read is checked and fails with FormatError naming what was being read.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "henn/engine/errors.hpp"

namespace henn::engine::detail {

class Writer {
  public:
    void u8(std::uint8_t v) { bytes_.push_back(v); }
    void u16(std::uint16_t v) { raw(&v, sizeof v); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void u64(std::uint64_t v) { raw(&v, sizeof v); }
    void i64(std::int64_t v) { raw(&v, sizeof v); }
    void f64(double v) { raw(&v, sizeof v); }
    void str(const std::string& s) {
        u64(s.size());
        raw(s.data(), s.size());
    }
    void blob(std::span<const std::uint8_t> b) {
        u64(b.size());
        raw(b.data(), b.size());
    }
    void raw(const void* data, std::size_t size) {
        if (size == 0) return;
        const std::size_t at = bytes_.size();
        bytes_.resize(at + size);
        std::memcpy(bytes_.data() + at, data, size);
    }
    std::vector<std::uint8_t>& bytes() { return bytes_; }

  private:
    std::vector<std::uint8_t> bytes_;
};

class Reader {
  public:
    Reader(std::span<const std::uint8_t> bytes, std::string what)
        : bytes_(bytes), what_(std::move(what)) {}
    std::size_t remaining() const { return bytes_.size() - pos_; }
    bool done() const { return pos_ == bytes_.size(); }
    std::uint8_t u8(const char* field) { return get<std::uint8_t>(field); }
    std::uint16_t u16(const char* field) { return get<std::uint16_t>(field); }
    std::uint32_t u32(const char* field) { return get<std::uint32_t>(field); }
    std::uint64_t u64(const char* field) { return get<std::uint64_t>(field); }
    std::int64_t i64(const char* field) { return get<std::int64_t>(field); }
    double f64(const char* field) {
        const double v = get<double>(field);
        if (!std::isfinite(v)) fail(std::string(field) + " is not a finite number");
        return v;
    }
    // A count of items of at least `item_bytes` each: bounded by what is left.
    std::uint64_t count(const char* field, std::size_t item_bytes,
                        std::uint64_t limit = UINT64_MAX) {
        const std::uint64_t n = u64(field);
        if (n > limit || (item_bytes && n > remaining() / item_bytes)) {
            fail("truncated or corrupt: " + std::string(field) + " (" + std::to_string(n) +
                 ") exceeds the " + std::to_string(remaining()) + " bytes left");
        }
        return n;
    }
    std::string str(const char* field, std::size_t limit = 1 << 20) {
        const std::uint64_t n = count(field, 1, limit);
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    std::span<const std::uint8_t> blob(const char* field) {
        const std::uint64_t n = count(field, 1);
        auto s = bytes_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    void expect_magic(const char* magic, std::size_t size) {
        if (remaining() < size || std::memcmp(bytes_.data() + pos_, magic, size) != 0) {
            fail("not a " + what_ + " (bad magic bytes)");
        }
        pos_ += size;
    }
    [[noreturn]] void fail(const std::string& message) const {
        throw FormatError(what_ + ": " + message);
    }

  private:
    template <typename T>
    T get(const char* field) {
        if (remaining() < sizeof(T)) fail(std::string("truncated while reading ") + field);
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    std::span<const std::uint8_t> bytes_;
    std::size_t pos_ = 0;
    std::string what_;
};

// SHA-256 of the bytes, first 8 bytes little-endian.
std::uint64_t content_hash(std::span<const std::uint8_t> bytes);

}  // namespace henn::engine::detail
