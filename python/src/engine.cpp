// Bindings of the encrypted-inference engine: compile (from ONNX bytes), CompiledModel, Client,
// Session, evaluation keys and ciphertext bundles. Encrypted work runs with the GIL released; a
// run polls Python's signal handlers between chunks and cancels cleanly on Ctrl-C.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "common.hpp"
#include "engine_types.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/parallel.hpp"
#include "henn/nn/model.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"

namespace henn::python {

namespace {

engine::BundleKind parse_kind(const std::string& kind) {
    if (kind == "inputs") return engine::BundleKind::inputs;
    if (kind == "outputs") return engine::BundleKind::outputs;
    throw py::value_error("kind must be \"inputs\" or \"outputs\", not \"" + kind + "\"");
}

// The packing named `name`, as the engine spells its packings (engine::to_string), so that every
// packing the linked engine knows is accepted here without a change to this file.
engine::Packing parse_packing(const std::string& name) {
    std::string known;
    for (int i = 0; i < 16; ++i) {
        const auto packing = static_cast<engine::Packing>(i);
        const std::string spelled = engine::to_string(packing);
        if (spelled.empty() || spelled == "?") continue;
        if (spelled == name) return packing;
        known += (known.empty() ? "" : ", ") + spelled;
    }
    throw engine::CompileError(
        "packing \"" + name +
        "\" is not available in this build of the engine (available: " + known + ")");
}

// Samples in `x` for a model of `size` inputs: (count, ...) whose trailing dimensions hold `size`
// values ((count, size), (count, *shape), or any reshaping of a sample), or one sample of the
// input's shape or of `size` values.
std::int64_t sample_count(const py::array& x, const nn::Shape& shape, std::int64_t size,
                          const char* what) {
    const auto ndim = static_cast<std::size_t>(x.ndim());
    std::int64_t trailing = 1;
    for (std::size_t d = 1; d < ndim; ++d) trailing *= x.shape(static_cast<py::ssize_t>(d));
    if (ndim >= 2 && trailing == size) return x.shape(0);
    bool one_sample = ndim == 1 && x.shape(0) == size;
    if (ndim == shape.size() && ndim >= 2) {
        one_sample = true;
        for (std::size_t d = 0; d < ndim; ++d)
            one_sample = one_sample && x.shape(static_cast<py::ssize_t>(d)) == shape[d];
    }
    if (one_sample) return 1;
    std::string got = "(";
    for (std::size_t d = 0; d < ndim; ++d)
        got += (d ? ", " : "") + std::to_string(x.shape(static_cast<py::ssize_t>(d)));
    throw engine::FormatError(std::string(what) + ": an array of shape " + got +
                              (ndim == 1 ? ",)" : ")") + " does not hold samples of shape " +
                              nn::shape_to_string(shape) + " (" + std::to_string(size) +
                              " values); pass (count, " + std::to_string(size) +
                              ") or (count, *input_shape)");
}

py::dict parameters_dict(const engine::CompiledModel& m) {
    const auto& ctx = *m.context();
    py::dict d;
    d["log_n"] = ctx.log_n();
    d["slots"] = ctx.max_slots();
    std::vector<int> log_q, log_p;
    for (const auto& q : ctx.q()) log_q.push_back(q.bits());
    for (const auto& p : ctx.p()) log_p.push_back(p.bits());
    d["log_q"] = log_q;
    d["log_p"] = log_p;
    d["log_qp"] = ctx.log_qp();
    d["log_scale"] = std::log2(m.input_scale());
    d["security_bits"] = static_cast<int>(ctx.security());
    d["levels"] = ctx.max_level();
    return d;
}

py::list stages_list(const engine::CompiledModel& m) {
    py::list out;
    for (const auto& s : m.stages()) {
        py::dict d;
        d["name"] = s.name;
        d["kind"] = s.kind;
        d["level_in"] = s.level_in;
        d["level_out"] = s.level_out;
        d["log2_scale_in"] = std::log2(s.scale_in);
        d["log2_scale_out"] = std::log2(s.scale_out);
        d["depth"] = s.depth;
        d["ct_multiplications"] = s.ct_multiplications;
        d["key_switches"] = s.key_switches;
        d["multiply_accumulates"] = s.multiply_accumulates;
        d["max_abs_out"] = s.max_abs_out;
        d["detail"] = s.detail;
        out.append(d);
    }
    return out;
}

// Writes `bytes` to `path` through a new file created with mode 0600 (never readable by others,
// not even for a moment), then renamed into place.
void write_private_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes,
                        bool overwrite) {
    if (!overwrite && std::filesystem::exists(path)) {
        throw py::value_error(path.string() + " exists; pass overwrite=True to replace it");
    }
    const std::filesystem::path partial = path.string() + ".partial";
    ::unlink(partial.c_str());  // a stale file would keep its old mode
    const int fd =
        ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(),
                                "cannot create " + partial.string());
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w <= 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(partial.c_str());
            throw std::system_error(err, std::generic_category(),
                                    "cannot write " + partial.string());
        }
        done += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(partial.c_str());
        throw std::system_error(errno, std::generic_category(), "cannot write " + partial.string());
    }
    std::filesystem::rename(partial, path);
}

// A file's bytes, wiped from memory when this object dies (secret keys).
struct WipedBytes {
    std::vector<std::uint8_t> bytes;
    ~WipedBytes() { explicit_bzero(bytes.data(), bytes.size()); }
};

WipedBytes read_private_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        throw std::system_error(ENOENT, std::generic_category(), "cannot read " + path.string());
    WipedBytes out;
    out.bytes.resize(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(out.bytes.data()),
            static_cast<std::streamsize>(out.bytes.size()));
    if (!in) throw std::system_error(EIO, std::generic_category(), "cannot read " + path.string());
    return out;
}

// Runs `work` with the GIL released; between chunks (the engine's progress callback) it takes the
// GIL, runs Python's signal handlers and the user's callback, and cancels the run when either
// raises. The Python exception is then re-raised here, after the engine has unwound.
template <typename Work>
void run_interruptible(const py::object& progress, Work&& work) {
    std::atomic<bool> cancel{false};
    PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
    auto poll = [&](std::size_t batch, std::size_t stage, std::int64_t done, std::int64_t total) {
        py::gil_scoped_acquire gil;
        if (type) return;
        bool failed = PyErr_CheckSignals() != 0;
        if (!failed && !progress.is_none()) {
            try {
                progress(batch, stage, done, total);
            } catch (py::error_already_set& e) {
                e.restore();
                failed = true;
            }
        }
        if (failed) {
            PyErr_Fetch(&type, &value, &trace);
            cancel = true;
        }
    };
    try {
        py::gil_scoped_release release;
        work(cancel, poll);
    } catch (...) {
        if (!type) throw;
        // The engine stopped because we cancelled it: the Python error is the one to report.
    }
    if (type) {
        PyErr_Restore(type, value, trace);
        throw py::error_already_set();
    }
}

}  // namespace

void bind_engine(py::module_& m) {
    m.def("set_threads", &math::set_thread_count, py::arg("threads"),
          "Threads used by encrypted work (default: all cores).");
    m.def("threads", &math::thread_count, "Threads used by encrypted work.");

    py::class_<Compiled, CompiledPtr>(m, "CompiledModel", py::dynamic_attr(), R"doc(
A model compiled into an encrypted program (immutable; share it between clients and sessions).

Made by :func:`henn.compile` or loaded with :meth:`CompiledModel.from_bytes` /
:meth:`CompiledModel.load`. It holds the CKKS parameters chosen for the model, the per-stage plan,
the evaluation keys the program needs and the expected precision; ``summary()`` prints them.)doc")
        .def(
            "summary", [](const Compiled& c) { return c.model->summary(); },
            "Parameters, stages, depth, keys and expected precision, as `henn compile` prints "
            "them.")
        .def(
            "to_bytes", [](const Compiled& c) { return to_bytes(c.model->save()); },
            "The versioned, validated serialization (what `henn compile -o model.henn` writes).")
        .def_static(
            "from_bytes",
            [](const py::buffer& data) {
                const py::buffer_info info = data.request();
                auto c = std::make_shared<Compiled>();
                c->model = engine::CompiledModel::load(byte_span(info));
                return c;
            },
            py::arg("data"),
            "A compiled model from its bytes (untrusted: henn.FormatError if malformed, "
            "henn.CompileError if insecure).")
        .def_property_readonly(
            "input_shape", [](const Compiled& c) { return c.model->input_shape(); },
            "Shape of one sample, without the batch dimension.")
        .def_property_readonly("input_size",
                               [](const Compiled& c) { return c.model->input_size(); })
        .def_property_readonly("output_size",
                               [](const Compiled& c) { return c.model->output_size(); })
        .def_property_readonly(
            "batch_size", [](const Compiled& c) { return c.model->batch_size(); },
            "Samples per ciphertext (more are split into several batches).")
        .def_property_readonly("depth", [](const Compiled& c) { return c.model->depth(); })
        .def_property_readonly(
            "packing", [](const Compiled& c) { return engine::to_string(c.model->packing()); })
        .def_property_readonly(
            "slot_packing",
            [](const Compiled& c) { return engine::to_string(c.model->slot_packing()); })
        .def_property_readonly(
            "expected_precision_bits",
            [](const Compiled& c) { return c.model->expected_precision_bits(); },
            "Estimated bits of absolute precision of the outputs (noise model).")
        .def_property_readonly(
            "hash", [](const Compiled& c) { return c.model->hash(); },
            "64-bit digest of the serialized model; keys and ciphertexts carry it.")
        .def_property_readonly("evaluation_key_bytes",
                               [](const Compiled& c) { return c.model->evaluation_key_bytes(); })
        .def_property_readonly("input_bytes_per_batch",
                               [](const Compiled& c) { return c.model->input_bytes_per_batch(); })
        .def_property_readonly("metadata", [](const Compiled& c) { return c.model->metadata(); })
        .def_property_readonly(
            "warnings", [](const Compiled& c) { return c.warnings; },
            "What the importer and compiler warned about (activations replaced, calibration "
            "outside an interval, ...).")
        .def_property_readonly(
            "parameters", [](const Compiled& c) { return parameters_dict(*c.model); },
            "The CKKS parameters: log_n, slots, log_q, log_p, log_qp, log_scale, security_bits, "
            "levels.")
        .def_property_readonly(
            "stages", [](const Compiled& c) { return stages_list(*c.model); },
            "The encrypted program, one dict per stage (levels, scales, products, key switches).")
        .def_property_readonly(
            "keys",
            [](const Compiled& c) {
                py::dict d;
                d["relinearization"] = c.model->keys().relinearization;
                d["conjugation"] = c.model->keys().conjugation;
                d["rotations"] = c.model->keys().rotations;
                return d;
            },
            "The evaluation keys the program needs.")
        .def_property_readonly(
            "has_reference", [](const Compiled& c) { return c.ir != nullptr; },
            "Whether reference() is available (the model was compiled in this process).")
        .def(
            "run_plain",
            [](const Compiled& c, const DoubleArray& x) {
                const auto& model = *c.model;
                const std::int64_t count =
                    sample_count(x, model.input_shape(), model.input_size(), "run_plain");
                std::vector<double> out;
                {
                    py::gil_scoped_release release;
                    out.reserve(static_cast<std::size_t>(count * model.output_size()));
                    for (std::int64_t i = 0; i < count; ++i) {
                        const auto y = model.run_plain(
                            as_span(x).subspan(static_cast<std::size_t>(i * model.input_size()),
                                               static_cast<std::size_t>(model.input_size())));
                        out.insert(out.end(), y.begin(), y.end());
                    }
                }
                return to_numpy(std::move(out), {count, model.output_size()});
            },
            py::arg("x"),
            "The compiled program in float64, without encryption: (count, output_size). What the "
            "encrypted run computes up to CKKS noise.")
        .def(
            "reference",
            [](const Compiled& c, const DoubleArray& x) {
                if (!c.ir) {
                    throw engine::FormatError(
                        "reference(): this compiled model was loaded from bytes and has no IR; use "
                        "run_plain()");
                }
                const auto& model = *c.model;
                const std::int64_t count =
                    sample_count(x, model.input_shape(), model.input_size(), "reference");
                std::vector<double> out;
                {
                    py::gil_scoped_release release;
                    out = nn::run_reference_batch(*c.ir, as_span(x), count);
                }
                return to_numpy(std::move(out), {count, model.output_size()});
            },
            py::arg("x"),
            "The imported model (activations already polynomial) on the float64 reference "
            "executor: (count, output_size).");

    m.def(
        "_compile",
        [](const py::buffer& onnx_bytes, const std::string& source, const std::string& packing,
           double precision, const std::optional<DoubleArray>& calibration,
           const std::string& slots, int scale_bits, int log_n, const std::string& activation,
           int input_copies) {
            const py::buffer_info info = onnx_bytes.request();
            auto c = std::make_shared<Compiled>();
            py::gil_scoped_release release;
            onnx::OnnxImportOptions import_options;
            if (!activation.empty()) import_options.replacement = nn::parse_activation(activation);
            auto imported = onnx::import_onnx_bytes(byte_span(info), import_options, source);
            c->warnings = std::move(imported.warnings);
            engine::CompileOptions options;
            options.packing = parse_packing(packing);
            options.target_precision_bits = precision;
            options.scale_bits = scale_bits;
            options.log_n = log_n;
            options.latency_input_copies = input_copies;
            if (slots == "real") {
                options.slot_packing = engine::SlotPacking::real;
            } else if (slots == "complex") {
                options.slot_packing = engine::SlotPacking::complex;
            } else if (slots != "auto") {
                throw engine::CompileError(
                    "slots must be \"auto\", \"real\" or \"complex\", not \"" + slots + "\"");
            }
            if (calibration) {
                py::gil_scoped_acquire gil;
                const auto size = nn::shape_size(imported.model.input_shape());
                options.calibration_count =
                    sample_count(*calibration, imported.model.input_shape(), size, "calibration");
                options.calibration.assign(calibration->data(),
                                           calibration->data() + calibration->size());
            }
            c->model = engine::CompiledModel::compile(imported.model, options, &c->warnings);
            c->ir = std::make_shared<const nn::Model>(std::move(imported.model));
            return c;
        },
        py::arg("onnx_bytes"), py::arg("source"), py::arg("packing"), py::arg("precision"),
        py::arg("calibration"), py::arg("slots"), py::arg("scale_bits"), py::arg("log_n"),
        py::arg("activation"), py::arg("input_copies"));

    py::class_<EvaluationKeys, std::shared_ptr<EvaluationKeys>>(m, "EvaluationKeys", R"doc(
The evaluation keys of one compiled model (relinearization, conjugation): what a server needs,
never the secret key. Send them with to_bytes(); the server loads them with from_bytes().)doc")
        .def("to_bytes",
             [](const EvaluationKeys& k) {
                 std::vector<std::uint8_t> out;
                 {
                     py::gil_scoped_release release;
                     out = engine::save_evaluation_keys(*k.model, k.bundle);
                 }
                 return to_bytes(out);
             })
        .def_static(
            "from_bytes",
            [](const CompiledPtr& compiled, const py::buffer& data) {
                const py::buffer_info info = data.request();
                auto k = std::make_shared<EvaluationKeys>();
                k->model = compiled->model;
                py::gil_scoped_release release;
                k->bundle = engine::load_evaluation_keys(*compiled->model, byte_span(info));
                return k;
            },
            py::arg("compiled"), py::arg("data"),
            "Keys from bytes, checked against the compiled model (henn.KeyMismatchError for "
            "another model).")
        .def_property_readonly("model_hash",
                               [](const EvaluationKeys& k) { return k.bundle.model_hash; });

    py::class_<Encrypted, std::shared_ptr<Encrypted>>(m, "EncryptedTensor", R"doc(
Ciphertexts of a batch of samples (inputs or outputs of one compiled model), split into batches
of CompiledModel.batch_size samples. to_bytes()/from_bytes() are the wire format of `henn
encrypt` / `henn infer`.)doc")
        .def_property_readonly("samples", &Encrypted::samples)
        .def("__len__", &Encrypted::samples)
        .def_property_readonly("batches", [](const Encrypted& e) { return e.batches.size(); })
        .def_property_readonly("kind",
                               [](const Encrypted& e) {
                                   return e.kind == engine::BundleKind::inputs ? "inputs"
                                                                               : "outputs";
                               })
        .def_property_readonly("ciphertexts",
                               [](const Encrypted& e) {
                                   std::size_t n = 0;
                                   for (const auto& b : e.batches) n += b.ciphertexts.size();
                                   return n;
                               })
        .def("to_bytes",
             [](const Encrypted& e) {
                 std::vector<std::uint8_t> out;
                 {
                     py::gil_scoped_release release;
                     out = engine::save_batches(*e.model, e.batches, e.kind);
                 }
                 return to_bytes(out);
             })
        .def_static(
            "from_bytes",
            [](const CompiledPtr& compiled, const py::buffer& data, const std::string& kind) {
                const py::buffer_info info = data.request();
                auto e = std::make_shared<Encrypted>();
                e->model = compiled->model;
                e->kind = parse_kind(kind);
                py::gil_scoped_release release;
                e->batches = engine::load_batches(*compiled->model, byte_span(info), e->kind);
                return e;
            },
            py::arg("compiled"), py::arg("data"), py::arg("kind") = "inputs",
            "Ciphertexts from bytes (untrusted): henn.FormatError if malformed, "
            "henn.KeyMismatchError for another model.");

    py::class_<Client, std::shared_ptr<Client>>(m, "Client", R"doc(
The data owner's side: holds the secret key of one compiled model, encrypts inputs, decrypts
outputs. The secret key never leaves this object except through save_secret_key(), which writes
a file created with mode 0600.

    client = henn.Client(compiled)                # fresh keys from OS randomness
    client = henn.Client.load(compiled, "sk.bin") # keys from a saved secret key)doc")
        .def(py::init([](const CompiledPtr& compiled, std::optional<std::uint64_t> test_only_seed) {
                 auto c = std::make_shared<Client>();
                 c->model = compiled->model;
                 py::gil_scoped_release release;
                 c->client =
                     test_only_seed
                         ? std::make_unique<engine::Client>(engine::Client::with_test_only_seed(
                               compiled->model, *test_only_seed))
                         : std::make_unique<engine::Client>(compiled->model);
                 return c;
             }),
             py::arg("compiled"), py::kw_only(), py::arg("test_only_seed") = py::none(),
             "Fresh keys from OS randomness. test_only_seed makes keys and encryption "
             "deterministic: tests only, never for real data.")
        .def_static(
            "load",
            [](const CompiledPtr& compiled, const std::filesystem::path& path) {
                auto c = std::make_shared<Client>();
                c->model = compiled->model;
                py::gil_scoped_release release;
                const WipedBytes secret = read_private_file(path);
                c->client = std::make_unique<engine::Client>(compiled->model, secret.bytes);
                return c;
            },
            py::arg("compiled"), py::arg("path"),
            "A client from a secret key saved by save_secret_key (henn.KeyMismatchError if it "
            "belongs to another model).")
        .def(
            "save_secret_key",
            [](const Client& c, const std::filesystem::path& path, bool overwrite) {
                py::gil_scoped_release release;
                WipedBytes secret{c.client->save_secret_key()};
                write_private_file(path, secret.bytes, overwrite);
            },
            py::arg("path"), py::arg("overwrite") = false,
            "Writes the secret key to a new file of mode 0600 (created with that mode, then "
            "renamed into place).")
        .def(
            "evaluation_keys",
            [](const Client& c) {
                auto k = std::make_shared<EvaluationKeys>();
                k->model = c.model;
                py::gil_scoped_release release;
                k->bundle = c.client->evaluation_keys();
                return k;
            },
            "The keys a server needs (generated once per client).")
        .def(
            "encrypt",
            [](const Client& c, const DoubleArray& x) {
                const auto& model = *c.model;
                const std::int64_t count =
                    sample_count(x, model.input_shape(), model.input_size(), "encrypt");
                auto e = std::make_shared<Encrypted>();
                e->model = c.model;
                e->kind = engine::BundleKind::inputs;
                py::gil_scoped_release release;
                e->batches = c.client->encrypt(as_span(x), count);
                return e;
            },
            py::arg("x"),
            "Encrypts samples of shape (count, *input_shape) or (count, input_size), float64 "
            "(other dtypes are converted).")
        .def(
            "decrypt",
            [](const Client& c, const Encrypted& e) {
                if (e.model->hash() != c.model->hash()) {
                    throw engine::KeyMismatchError(
                        "these ciphertexts belong to another compiled model than this client's");
                }
                std::vector<double> out;
                std::int64_t width = 0;
                {
                    py::gil_scoped_release release;
                    if (e.kind == engine::BundleKind::outputs) {
                        out = c.client->decrypt(e.batches);
                        width = c.model->output_size();
                    } else {
                        if (c.model->packing() != engine::Packing::batch) {
                            throw engine::FormatError(
                                "decrypt(): input ciphertexts decrypt in batch packing only; this "
                                "model uses " +
                                engine::to_string(c.model->packing()) + " packing");
                        }
                        width = c.model->input_size();
                        for (const auto& b : e.batches) {
                            const auto values = c.client->decrypt_values(b.ciphertexts, b.samples);
                            for (std::int64_t s = 0; s < b.samples; ++s) {
                                for (const auto& feature : values)
                                    out.push_back(feature[static_cast<std::size_t>(s)]);
                            }
                        }
                    }
                }
                const auto count =
                    static_cast<py::ssize_t>(out.size()) / std::max<py::ssize_t>(width, 1);
                return to_numpy(std::move(out), {count, width});
            },
            py::arg("ct"),
            "Decrypts outputs (count, output_size) or inputs (count, input_size) as float64.");

    py::class_<Session, std::shared_ptr<Session>>(m, "Session", R"doc(
The server's side: runs a compiled model on encrypted inputs with evaluation keys only. One
session serves many runs, from several threads at once.)doc")
        .def(py::init([](const CompiledPtr& compiled, const EvaluationKeys& keys) {
                 auto s = std::make_shared<Session>();
                 s->model = compiled->model;
                 py::gil_scoped_release release;
                 s->session = std::make_unique<engine::Session>(compiled->model, keys.bundle);
                 return s;
             }),
             py::arg("compiled"), py::arg("keys"),
             "henn.KeyMismatchError if the keys belong to another model or lack a key the program "
             "needs.")
        .def(
            "run",
            [](const Session& s, Encrypted& inputs, const py::object& progress, bool consume,
               std::int64_t chunk, bool reference_kernels) {
                if (inputs.kind != engine::BundleKind::inputs) {
                    throw engine::FormatError(
                        "run() takes input ciphertexts (kind \"inputs\"), not \"outputs\"");
                }
                auto out = std::make_shared<Encrypted>();
                out->model = s.model;
                out->kind = engine::BundleKind::outputs;
                run_interruptible(progress, [&](std::atomic<bool>& cancel, auto& poll) {
                    for (std::size_t b = 0; b < inputs.batches.size(); ++b) {
                        engine::RunOptions options;
                        options.cancel = &cancel;
                        options.chunk = chunk;
                        options.reference_kernels = reference_kernels;
                        options.progress = [&, b](std::size_t stage, std::int64_t done,
                                                  std::int64_t total) {
                            poll(b, stage, done, total);
                        };
                        if (consume) {
                            out->batches.push_back(
                                s.session->run(std::move(inputs.batches[b]), options));
                        } else {
                            out->batches.push_back(s.session->run(inputs.batches[b], options));
                        }
                    }
                    if (consume) inputs.batches.clear();
                });
                return out;
            },
            py::arg("ct"), py::arg("progress") = py::none(), py::kw_only(),
            py::arg("consume") = false, py::arg("chunk") = 64, py::arg("reference_kernels") = false,
            R"doc(Runs the model on encrypted inputs; returns the encrypted outputs.

progress(batch, stage, done, total) is called between chunks of work (with the GIL). Ctrl-C
(or an exception from progress) cancels the run and is raised here. consume=True frees the
inputs as soon as each batch has used them (ct is empty afterwards), as `henn run` does.
chunk: outputs of a linear stage computed together (bounds memory). reference_kernels: one
evaluator call per weight, the slow reference the blocked kernel is tested against.)doc");
}

}  // namespace henn::python
