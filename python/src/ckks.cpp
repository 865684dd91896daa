// Bindings of the CKKS layer (henn._henn.ckks): parameters, context, keys, encoder, encryptor,
// decryptor, evaluator, with vectors as numpy arrays. Heavy operations release the GIL.
#include <pybind11/complex.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>

#include "common.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/ckks/parameters.hpp"
#include "henn/ckks/serialization.hpp"

namespace henn::python {

namespace {

using namespace henn::ckks;
// pybind11 holders cannot be shared_ptr<const T>: Python holds mutable-typed pointers to objects
// that are never mutated after creation.
using ContextHolder = std::shared_ptr<Context>;
using EvaluationKeysPtr = std::shared_ptr<EvaluationKeys>;

math::Seed seed_from(std::uint64_t value) {
    math::Seed seed{};
    for (int i = 0; i < 8; ++i)
        seed[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * i));
    return seed;
}

SecurityLevel security_from(int bits) {
    switch (bits) {
        case 128:
            return SecurityLevel::k128;
        case 192:
            return SecurityLevel::k192;
        case 256:
            return SecurityLevel::k256;
    }
    throw ParameterError("security must be 128, 192 or 256 bits, not " + std::to_string(bits));
}

// The key generator with the context it was made for (keeps the context alive).
struct Keys {
    ContextPtr context;
    std::unique_ptr<KeyGenerator> generator;
};

// A ciphertext / plaintext with nothing else: Python objects own them by value.
template <typename T>
py::class_<T> bind_object(py::module_& m, const char* name, const char* doc) {
    return py::class_<T>(m, name, doc)
        .def_readonly("level", &T::level,
                      "Primes left above q_0: products (rescales) still possible.")
        .def_readonly("scale", &T::scale)
        .def_readonly("slots", &T::slots)
        .def_readonly("parameter_hash", &T::parameter_hash);
}

}  // namespace

void bind_ckks(py::module_& parent) {
    py::module_ m = parent.def_submodule(
        "ckks", "The CKKS layer: parameters, keys, encoding, encryption, evaluation.");

    py::class_<ParametersLiteral>(m, "Parameters", R"doc(
CKKS parameters before validation: ring degree 2^log_n, the chain of ciphertext primes (bit
sizes, q_0 first) and special primes for key switching, the default scale, the security level.
Context(parameters) validates them: below 128-bit security they are refused unless
allow_insecure=True (tests only).)doc")
        .def(py::init([](int log_n, std::vector<int> log_q, std::vector<int> log_p,
                         double scale_bits, int security, bool allow_insecure) {
                 ParametersLiteral p;
                 p.log_n = log_n;
                 p.log_q = std::move(log_q);
                 p.log_p = std::move(log_p);
                 p.log_default_scale = scale_bits;
                 p.security = security_from(security);
                 p.allow_insecure = allow_insecure;
                 return p;
             }),
             py::arg("log_n"), py::arg("log_q"), py::arg("log_p"), py::arg("scale_bits") = 40.0,
             py::arg("security") = 128, py::kw_only(), py::arg("allow_insecure") = false)
        .def_static(
            "for_depth",
            [](int depth, int scale_bits, int first_bits, int security) {
                return ParametersLiteral::for_depth(depth, scale_bits, first_bits,
                                                    security_from(security));
            },
            py::arg("depth"), py::arg("scale_bits") = 40, py::arg("first_bits") = 60,
            py::arg("security") = 128,
            "The smallest secure ring for `depth` products at scale 2^scale_bits.")
        .def_readwrite("log_n", &ParametersLiteral::log_n)
        .def_readwrite("log_q", &ParametersLiteral::log_q)
        .def_readwrite("log_p", &ParametersLiteral::log_p)
        .def_readwrite("scale_bits", &ParametersLiteral::log_default_scale)
        .def_readonly("allow_insecure", &ParametersLiteral::allow_insecure)
        .def("__repr__", [](const ParametersLiteral& p) {
            return "Parameters(log_n=" + std::to_string(p.log_n) + ", " +
                   std::to_string(p.log_q.size() + p.q.size()) + " primes in Q, " +
                   std::to_string(p.log_p.size() + p.p.size()) + " in P)";
        });

    py::class_<Context, ContextHolder>(
        m, "Context",
        "Validated parameters with every precomputation; immutable, shared by all objects.")
        .def(py::init([](const ParametersLiteral& p) {
                 py::gil_scoped_release release;
                 return std::const_pointer_cast<Context>(Context::create(p));
             }),
             py::arg("parameters"))
        .def_property_readonly("log_n", &Context::log_n)
        .def_property_readonly("slots", &Context::max_slots)
        .def_property_readonly("max_level", &Context::max_level)
        .def_property_readonly("log_qp", &Context::log_qp)
        .def_property_readonly("default_scale", &Context::default_scale)
        .def_property_readonly("security_bits",
                               [](const Context& c) { return static_cast<int>(c.security()); })
        .def_property_readonly("insecure", &Context::insecure)
        .def_property_readonly("parameter_hash", &Context::parameter_hash)
        .def(
            "prime",
            [](const Context& c, int level) {
                if (level < 0 || level > c.max_level()) throw py::index_error("level out of range");
                return c.q()[static_cast<std::size_t>(level)].value();
            },
            py::arg("level"),
            "The prime q_level (a rescale at that level divides the scale by it).")
        .def("describe", &Context::describe)
        .def("__repr__", &Context::describe);

    bind_object<Plaintext>(m, "Plaintext", "An encoded vector (NTT form), at a level and scale.")
        .def(
            "to_bytes", [](const Plaintext& p, const Context& c) { return to_bytes(save(c, p)); },
            py::arg("context"))
        .def_static(
            "from_bytes",
            [](const Context& c, const py::buffer& data) {
                const py::buffer_info info = data.request();
                return load_plaintext(c, byte_span(info));
            },
            py::arg("context"), py::arg("data"));
    bind_object<Ciphertext>(m, "Ciphertext", "An encrypted vector, at a level and scale.")
        .def_property_readonly("size", &Ciphertext::size,
                               "Polynomials: 2, or 3 after multiply() before relinearize().")
        .def(
            "to_bytes",
            [](const Ciphertext& ct, const Context& c) {
                std::vector<std::uint8_t> out;
                {
                    py::gil_scoped_release release;
                    out = save(c, ct);
                }
                return to_bytes(out);
            },
            py::arg("context"),
            "Versioned, compressed bytes (a fresh secret-key ciphertext stores half of itself as a "
            "seed).")
        .def_static(
            "from_bytes",
            [](const Context& c, const py::buffer& data) {
                const py::buffer_info info = data.request();
                py::gil_scoped_release release;
                return load_ciphertext(c, byte_span(info));
            },
            py::arg("context"), py::arg("data"),
            "Untrusted bytes: henn.FormatError if malformed, henn.KeyMismatchError for other "
            "parameters.");

    py::class_<PublicKey>(m, "PublicKey", "Encrypts without the secret key.");
    py::class_<EvaluationKeys, EvaluationKeysPtr>(
        m, "EvaluationKeys",
        "Relinearization and Galois keys for an Evaluator (never the secret key).")
        .def_property_readonly(
            "relinearization",
            [](const EvaluationKeys& k) { return k.relinearization.has_value(); })
        .def_property_readonly("galois_elements",
                               [](const EvaluationKeys& k) {
                                   std::vector<u64> e;
                                   for (const auto& [element, key] : k.galois.keys)
                                       e.push_back(element);
                                   return e;
                               })
        .def_property_readonly("nbytes", [](const EvaluationKeys& k) {
            return k.galois.bytes() + (k.relinearization ? k.relinearization->key.bytes() : 0);
        });

    py::class_<Keys, std::shared_ptr<Keys>>(m, "KeyGenerator", R"doc(
Owns a secret key (fresh from OS randomness; wiped from memory when freed) and makes the public
and evaluation keys. The secret key itself is never exposed to Python.)doc")
        .def(py::init([](ContextHolder context, std::optional<std::uint64_t> test_only_seed) {
                 auto k = std::make_shared<Keys>();
                 k->context = context;
                 py::gil_scoped_release release;
                 k->generator = test_only_seed ? std::make_unique<KeyGenerator>(
                                                     context, seed_from(*test_only_seed))
                                               : std::make_unique<KeyGenerator>(context);
                 return k;
             }),
             py::arg("context"), py::kw_only(), py::arg("test_only_seed") = py::none(),
             "test_only_seed: deterministic keys for tests, never for real data.")
        .def(
            "public_key", [](Keys& k) { return k.generator->public_key(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "evaluation_keys",
            [](Keys& k, const std::vector<int>& rotations, bool conjugation) {
                return std::make_shared<EvaluationKeys>(
                    k.generator->evaluation_keys(rotations, conjugation));
            },
            py::arg("rotations") = std::vector<int>{}, py::arg("conjugation") = false,
            py::call_guard<py::gil_scoped_release>(),
            "A relinearization key plus Galois keys for the given rotation steps (and "
            "conjugation).")
        .def(
            "add_rotation_keys",
            [](Keys& k, const EvaluationKeys& keys, const std::vector<int>& rotations,
               bool conjugation) {
                auto more = std::make_shared<EvaluationKeys>(keys);
                k.generator->add_galois_keys(more->galois, rotations, conjugation);
                return more;
            },
            py::arg("keys"), py::arg("rotations"), py::arg("conjugation") = false,
            py::call_guard<py::gil_scoped_release>(),
            "A copy of `keys` with keys for further rotation steps.");

    py::class_<Encoder>(m, "Encoder",
                        "Real or complex vectors to plaintexts (canonical embedding) and back.")
        .def(py::init([](ContextHolder c) { return std::make_unique<Encoder>(c); }),
             py::arg("context"))
        .def(
            "encode",
            [](const Encoder& e, const py::array& values, int level, double scale,
               std::size_t slots) {
                if (py::isinstance<py::array_t<std::complex<double>>>(values) ||
                    py::isinstance<py::array_t<std::complex<float>>>(values)) {
                    const auto a = ComplexArray::ensure(values);
                    std::span<const std::complex<double>> span(a.data(),
                                                               static_cast<std::size_t>(a.size()));
                    py::gil_scoped_release release;
                    return e.encode(span, level, scale, slots);
                }
                const auto a = DoubleArray::ensure(values);
                if (!a) throw py::type_error("encode() takes a numeric array");
                py::gil_scoped_release release;
                return e.encode(as_span(a), level, scale, slots);
            },
            py::arg("values"), py::arg("level") = -1, py::arg("scale") = 0.0, py::arg("slots") = 0,
            "Encodes a real (float64) or complex (complex128) vector; level -1: top, scale 0: "
            "default, slots 0: N/2.")
        .def(
            "encode_constant",
            [](const Encoder& e, std::complex<double> value, int level, double scale,
               std::size_t slots) { return e.encode_constant(value, level, scale, slots); },
            py::arg("value"), py::arg("level") = -1, py::arg("scale") = 0.0, py::arg("slots") = 0)
        .def(
            "decode",
            [](const Encoder& e, const Plaintext& p) {
                std::vector<double> values;
                {
                    py::gil_scoped_release release;
                    values = e.decode_real(p);
                }
                return to_numpy(std::move(values));
            },
            py::arg("plaintext"), "The real parts of the slots, float64.")
        .def(
            "decode_complex",
            [](const Encoder& e, const Plaintext& p) {
                std::vector<std::complex<double>> values;
                {
                    py::gil_scoped_release release;
                    values = e.decode(p);
                }
                return to_numpy(std::move(values));
            },
            py::arg("plaintext"), "The slots, complex128.");

    py::class_<Encryptor>(m, "Encryptor",
                          "Encryption with the public key (anyone) or the secret key (smaller "
                          "ciphertexts on the wire).")
        .def(py::init([](ContextHolder c, const PublicKey& k) {
                 return std::make_unique<Encryptor>(c, k);
             }),
             py::arg("context"), py::arg("public_key"))
        .def(py::init([](ContextHolder context, const Keys& keys) {
                 return std::make_unique<Encryptor>(context, keys.generator->secret_key());
             }),
             py::arg("context"), py::arg("keys"))
        .def("encrypt", &Encryptor::encrypt, py::arg("plaintext"),
             py::call_guard<py::gil_scoped_release>());

    py::class_<Decryptor>(m, "Decryptor", "Decryption with the key generator's secret key.")
        .def(py::init([](ContextHolder context, const Keys& keys) {
                 return std::make_unique<Decryptor>(context, keys.generator->secret_key());
             }),
             py::arg("context"), py::arg("keys"))
        .def("decrypt", &Decryptor::decrypt, py::arg("ciphertext"),
             py::call_guard<py::gil_scoped_release>());

    using CT = const Ciphertext&;
    using PT = const Plaintext&;
    const auto nogil = py::call_guard<py::gil_scoped_release>();
    py::class_<Evaluator>(m, "Evaluator", R"doc(
Homomorphic operations with evaluation keys only. Binary operations need equal levels and scales
(align() brings two ciphertexts together); products double the scale until rescale().)doc")
        .def(py::init([](ContextHolder c, const py::object& keys) {
                 return std::make_unique<Evaluator>(
                     c, keys.is_none() ? nullptr : keys.cast<EvaluationKeysPtr>());
             }),
             py::arg("context"), py::arg("keys") = py::none())
        .def(
            "add", [](const Evaluator& e, CT a, CT b) { return e.add(a, b); }, nogil)
        .def(
            "sub", [](const Evaluator& e, CT a, CT b) { return e.sub(a, b); }, nogil)
        .def(
            "negate", [](const Evaluator& e, CT a) { return e.negate(a); }, nogil)
        .def(
            "add_plain", [](const Evaluator& e, CT a, PT p) { return e.add_plain(a, p); }, nogil)
        .def(
            "sub_plain", [](const Evaluator& e, CT a, PT p) { return e.sub_plain(a, p); }, nogil)
        .def(
            "multiply_plain", [](const Evaluator& e, CT a, PT p) { return e.multiply_plain(a, p); },
            nogil, "Scale a.scale * p.scale: rescale() afterwards.")
        .def(
            "add_constant",
            [](const Evaluator& e, CT a, std::complex<double> c) { return e.add_constant(a, c); },
            nogil)
        .def(
            "multiply_constant",
            [](const Evaluator& e, CT a, double c, double constant_scale) {
                return e.multiply_constant(a, c, constant_scale);
            },
            py::arg("ct"), py::arg("value"), py::arg("constant_scale") = 0.0, nogil,
            "constant_scale 0: the prime at a's level, so that rescale() returns to a.scale "
            "exactly.")
        .def(
            "multiply", [](const Evaluator& e, CT a, CT b) { return e.multiply_relin(a, b); },
            nogil, "Product, relinearized (needs the relinearization key); rescale() afterwards.")
        .def(
            "multiply_no_relin", [](const Evaluator& e, CT a, CT b) { return e.multiply(a, b); },
            nogil)
        .def(
            "relinearize", [](const Evaluator& e, CT a) { return e.relinearize(a); }, nogil)
        .def(
            "square", [](const Evaluator& e, CT a) { return e.square_relin(a); }, nogil)
        .def(
            "rescale", [](const Evaluator& e, CT a) { return e.rescale(a); }, nogil)
        .def(
            "drop_level",
            [](const Evaluator& e, CT a, int level) { return e.drop_level(a, level); }, nogil)
        .def(
            "rotate", [](const Evaluator& e, CT a, int steps) { return e.rotate(a, steps); },
            py::arg("ct"), py::arg("steps"), nogil,
            "Slots rotated left by `steps` (negative: right); needs that rotation's Galois key.")
        .def(
            "conjugate", [](const Evaluator& e, CT a) { return e.conjugate(a); }, nogil)
        .def(
            "align", [](const Evaluator& e, CT a, CT b) { return e.align(a, b); }, nogil,
            "(a, b) brought to a common level and scale.")
        .def(
            "polynomial",
            [](const Evaluator& e, CT x, const std::vector<double>& coefficients, double lo,
               double hi) { return circuits::evaluate_polynomial(e, x, coefficients, lo, hi); },
            py::arg("ct"), py::arg("coefficients"), py::arg("lo") = -1.0, py::arg("hi") = 1.0,
            nogil,
            "sum_k c_k x^k slot-wise (power-basis coefficients, ascending), for slots in [lo, hi]; "
            "depth ceil(log2(degree + 1)) "
            "or one more (plan_polynomial chooses the basis).");
}

}  // namespace henn::python
