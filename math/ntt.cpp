#include "henn/math/ntt.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "henn/error.hpp"
#include "henn/math/primes.hpp"
#include "ntt_simd.hpp"

namespace henn::math {

NttTables::NttTables(std::size_t n, const Modulus& q) : n_(n), q_(q) {
    if (n < 2 || (n & (n - 1)) != 0) throw InvalidArgument("NTT size must be a power of two");
    if (!is_prime(q.value())) throw InvalidArgument("NTT modulus must be prime");
    log_n_ = __builtin_ctzll(n);
    psi_ = primitive_root_of_unity(2 * n, q);
    const u64 psi_inv = inverse_mod(psi_, q.value());
    roots_.resize(n);
    inv_roots_.resize(n);
    u64 power = 1, inv_power = 1;
    std::vector<u64> powers(n), inv_powers(n);
    for (std::size_t k = 0; k < n; ++k) {
        powers[k] = power;
        inv_powers[k] = inv_power;
        power = mul_mod(power, psi_, q);
        inv_power = mul_mod(inv_power, psi_inv, q);
    }
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t r = reverse_bits(k, log_n_);
        roots_[k] = ShoupConstant(powers[r], q.value());
        inv_roots_[k] = ShoupConstant(inv_powers[r], q.value());
    }
    const u64 n_inv = inverse_mod(n % q.value(), q.value());
    n_inv_ = ShoupConstant(n_inv, q.value());
    last_root_scaled_ = ShoupConstant(mul_mod(inv_roots_[1].value, n_inv, q), q.value());
}

void ntt_forward_portable(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const u64 q = tables.modulus().value();
    const u64 two_q = 2 * q;
    const ShoupConstant* roots = tables.forward_roots().data();
    std::size_t t = n;
    for (std::size_t m = 1; m < n; m <<= 1) {
        t >>= 1;
        for (std::size_t i = 0; i < m; ++i) {
            const u64 w = roots[m + i].value;
            const u64 w_shoup = roots[m + i].shoup;
            u64* x = a + 2 * i * t;
            u64* y = x + t;
            for (std::size_t j = 0; j < t; ++j) {
                u64 u = x[j];
                u = u >= two_q ? u - two_q : u;
                const u64 v = mul_shoup_lazy(y[j], w, w_shoup, q);
                x[j] = u + v;
                y[j] = u - v + two_q;
            }
        }
    }
    for (std::size_t j = 0; j < n; ++j) {
        u64 u = a[j];
        u = u >= two_q ? u - two_q : u;
        a[j] = u >= q ? u - q : u;
    }
}

void ntt_inverse_portable(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const u64 q = tables.modulus().value();
    const u64 two_q = 2 * q;
    const ShoupConstant* roots = tables.inverse_roots().data();
    // Inputs may be in [0, 4q); bring them to [0, 2q) for the butterflies' invariant.
    for (std::size_t j = 0; j < n; ++j) a[j] = a[j] >= two_q ? a[j] - two_q : a[j];
    std::size_t t = 1;
    for (std::size_t m = n >> 1; m > 1; m >>= 1) {
        for (std::size_t i = 0; i < m; ++i) {
            const u64 w = roots[m + i].value;
            const u64 w_shoup = roots[m + i].shoup;
            u64* x = a + 2 * i * t;
            u64* y = x + t;
            for (std::size_t j = 0; j < t; ++j) {
                const u64 u = x[j];
                const u64 v = y[j];
                u64 s = u + v;
                x[j] = s >= two_q ? s - two_q : s;
                y[j] = mul_shoup_lazy(u - v + two_q, w, w_shoup, q);
            }
        }
        t <<= 1;
    }
    // Last layer with n^-1 folded into both outputs.
    const ShoupConstant n_inv = tables.inverse_degree();
    const ShoupConstant w = tables.inverse_last_root_scaled();
    u64* x = a;
    u64* y = a + t;
    for (std::size_t j = 0; j < t; ++j) {
        const u64 u = x[j];
        const u64 v = y[j];
        u64 s = mul_shoup_lazy(u + v, n_inv.value, n_inv.shoup, q);
        u64 d = mul_shoup_lazy(u - v + two_q, w.value, w.shoup, q);
        x[j] = s >= q ? s - q : s;
        y[j] = d >= q ? d - q : d;
    }
}

namespace {

constexpr NttKernel kAllKernels[] = {NttKernel::portable, NttKernel::avx2, NttKernel::avx512,
                                     NttKernel::avx512ifma};

NttKernel kernel_from_environment() {
    const char* requested = std::getenv("HENN_NTT_KERNEL");
    if (requested == nullptr || *requested == '\0') {
        if (ntt_kernel_available(NttKernel::avx512ifma)) return NttKernel::avx512ifma;
        if (ntt_kernel_available(NttKernel::avx512)) return NttKernel::avx512;
        if (ntt_kernel_available(NttKernel::avx2)) return NttKernel::avx2;
        return NttKernel::portable;
    }
    NttKernel kernel;
    try {
        kernel = ntt_kernel_from_name(requested);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(std::string("HENN_NTT_KERNEL: ") + e.what());
    }
    if (!ntt_kernel_available(kernel)) {
        throw InvalidArgument(std::string("HENN_NTT_KERNEL=") + requested +
                              ": this CPU lacks the instructions of that kernel");
    }
    return kernel;
}

void check_available(NttKernel kernel) {
    if (!ntt_kernel_available(kernel)) {
        throw InvalidArgument(std::string("NTT kernel ") + ntt_kernel_name(kernel) +
                              " is not supported by this CPU");
    }
}

}  // namespace

bool ntt_kernel_available(NttKernel kernel) {
    switch (kernel) {
        case NttKernel::portable:
            return true;
        case NttKernel::avx2:
            return simd::cpu_supports_avx2();
        case NttKernel::avx512:
            return simd::cpu_supports_avx512();
        case NttKernel::avx512ifma:
            return simd::cpu_supports_avx512ifma();
    }
    return false;
}

const char* ntt_kernel_name(NttKernel kernel) {
    switch (kernel) {
        case NttKernel::portable:
            return "portable";
        case NttKernel::avx2:
            return "avx2";
        case NttKernel::avx512:
            return "avx512";
        case NttKernel::avx512ifma:
            return "avx512ifma";
    }
    return "unknown";
}

NttKernel ntt_kernel_from_name(const char* name) {
    for (NttKernel kernel : kAllKernels) {
        if (std::strcmp(name, ntt_kernel_name(kernel)) == 0) return kernel;
    }
    throw InvalidArgument(std::string("unknown NTT kernel '") + name +
                          "' (expected portable, avx2, avx512 or avx512ifma)");
}

NttKernel ntt_selected_kernel() {
    static const NttKernel selected = kernel_from_environment();
    return selected;
}

const char* ntt_kernel_name() {
    return ntt_kernel_name(ntt_selected_kernel());
}

void ntt_forward(u64* values, const NttTables& tables) {
    switch (ntt_selected_kernel()) {
        case NttKernel::portable:
            return ntt_forward_portable(values, tables);
        case NttKernel::avx2:
            return simd::ntt_forward_avx2(values, tables);
        case NttKernel::avx512:
            return simd::ntt_forward_avx512(values, tables);
        case NttKernel::avx512ifma:
            return simd::ntt_forward_avx512ifma(values, tables);
    }
}

void ntt_inverse(u64* values, const NttTables& tables) {
    switch (ntt_selected_kernel()) {
        case NttKernel::portable:
            return ntt_inverse_portable(values, tables);
        case NttKernel::avx2:
            return simd::ntt_inverse_avx2(values, tables);
        case NttKernel::avx512:
            return simd::ntt_inverse_avx512(values, tables);
        case NttKernel::avx512ifma:
            return simd::ntt_inverse_avx512ifma(values, tables);
    }
}

void ntt_forward(u64* values, const NttTables& tables, NttKernel kernel) {
    check_available(kernel);
    switch (kernel) {
        case NttKernel::portable:
            return ntt_forward_portable(values, tables);
        case NttKernel::avx2:
            return simd::ntt_forward_avx2(values, tables);
        case NttKernel::avx512:
            return simd::ntt_forward_avx512(values, tables);
        case NttKernel::avx512ifma:
            return simd::ntt_forward_avx512ifma(values, tables);
    }
}

void ntt_inverse(u64* values, const NttTables& tables, NttKernel kernel) {
    check_available(kernel);
    switch (kernel) {
        case NttKernel::portable:
            return ntt_inverse_portable(values, tables);
        case NttKernel::avx2:
            return simd::ntt_inverse_avx2(values, tables);
        case NttKernel::avx512:
            return simd::ntt_inverse_avx512(values, tables);
        case NttKernel::avx512ifma:
            return simd::ntt_inverse_avx512ifma(values, tables);
    }
}

std::vector<u64> negacyclic_multiply_naive(const std::vector<u64>& a, const std::vector<u64>& b,
                                           const Modulus& q) {
    const std::size_t n = a.size();
    if (b.size() != n) throw InvalidArgument("operands differ in length");
    std::vector<u64> c(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            const u64 p = mul_mod(a[i], b[j], q);
            const std::size_t k = i + j;
            if (k < n) {
                c[k] = add_mod(c[k], p, q.value());
            } else {
                c[k - n] = sub_mod(c[k - n], p, q.value());  // X^n = -1
            }
        }
    }
    return c;
}

}  // namespace henn::math
