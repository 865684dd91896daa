// henn.client.Remote: encrypted inference against `henn serve` (the gRPC service), from Python.
// Built when the service layer is (HENN_PY_HAS_SERVICE). The client encrypts and decrypts
// locally; the server receives evaluation and public keys, never the secret key.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>
#include <mutex>

#include "common.hpp"
#include "engine_types.hpp"
#include "henn/engine/errors.hpp"
#include "henn/service/inference.hpp"

namespace henn::python {

namespace {

struct Remote {
    std::unique_ptr<service::InferenceClient> client;
    std::mutex mutex;
    // Key material per client object (its evaluation and public keys, made once).
    std::map<const engine::Client*, service::KeyMaterial> keys;
};

}  // namespace

void bind_remote(py::module_& m) {
    py::class_<Remote, std::shared_ptr<Remote>>(m, "Remote", R"doc(
A connection to `henn serve` ("host:port"). Encryption and decryption happen here; the server
gets the model's evaluation keys and a public key, never the secret key.

    remote = henn.client.Remote("localhost:50051")
    compiled = remote.fetch_model("mnist")        # the served model, without its weights
    client = henn.Client(compiled)
    y = remote.predict("mnist", client, x))doc")
        .def(py::init([](const std::string& address, const std::optional<std::string>& tls_ca,
                         const std::string& tls_server_name, double timeout) {
                 service::ChannelOptions o;
                 o.address = address;
                 if (tls_ca) o.tls = service::ChannelTls{*tls_ca, "", "", tls_server_name};
                 o.max_message_bytes = 8 << 20;
                 o.call_timeout =
                     std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
                 auto r = std::make_shared<Remote>();
                 py::gil_scoped_release release;
                 r->client = std::make_unique<service::InferenceClient>(o);
                 return r;
             }),
             py::arg("address"), py::kw_only(), py::arg("tls_ca") = py::none(),
             py::arg("tls_server_name") = "", py::arg("timeout") = 600.0,
             "tls_ca: PEM file of the CA that signed the server's certificate (TLS); none: "
             "plaintext channel "
             "(the ciphertexts are encrypted either way, the metadata is not).")
        .def(
            "models",
            [](Remote& r) {
                std::vector<service::RemoteModelInfo> models;
                {
                    py::gil_scoped_release release;
                    models = r.client->list_models();
                }
                py::list out;
                for (const auto& i : models) {
                    py::dict d;
                    d["name"] = i.name;
                    d["model_hash"] = i.model_hash;
                    d["packing"] = i.packing;
                    d["slot_packing"] = i.slot_packing;
                    d["input_size"] = i.input_size;
                    d["output_size"] = i.output_size;
                    d["batch_size"] = i.batch_size;
                    d["log_n"] = i.log_n;
                    d["evaluation_key_bytes"] = i.evaluation_key_bytes;
                    d["expected_precision_bits"] = i.expected_precision_bits;
                    out.append(d);
                }
                return out;
            },
            "The models the server serves, one dict each.")
        .def(
            "fetch_model",
            [](Remote& r, const std::string& name) {
                auto c = std::make_shared<Compiled>();
                py::gil_scoped_release release;
                c->model = r.client->fetch_model(name);
                return c;
            },
            py::arg("name"),
            "The served model's compiled form without its weights (what a client needs to encrypt "
            "and decrypt).")
        .def(
            "predict",
            [](Remote& r, const std::string& name, const Client& client, const DoubleArray& x,
               int concurrency, const py::object& progress) {
                const auto& model = *client.model;
                const std::int64_t size = model.input_size();
                if (x.size() % std::max<std::int64_t>(size, 1) != 0) {
                    throw engine::FormatError("predict(): " + std::to_string(x.size()) +
                                              " values are not samples of " + std::to_string(size));
                }
                const std::int64_t count = x.size() / size;
                service::InferReport report;
                {
                    py::gil_scoped_release release;
                    service::KeyMaterial keys;
                    {
                        std::lock_guard lock(r.mutex);
                        auto it = r.keys.find(client.client.get());
                        if (it == r.keys.end())
                            it = r.keys
                                     .emplace(client.client.get(),
                                              service::make_key_material(*client.client))
                                     .first;
                        keys = it->second;
                    }
                    service::InferOptions options;
                    options.concurrency = concurrency;
                    if (!progress.is_none()) {
                        options.progress = [&](std::int64_t done, std::int64_t total) {
                            py::gil_scoped_acquire gil;
                            progress(done, total);
                        };
                    }
                    report =
                        r.client->infer(name, *client.client, keys, as_span(x), count, options);
                }
                return to_numpy(std::move(report.outputs), {count, model.output_size()});
            },
            py::arg("name"), py::arg("client"), py::arg("x"), py::kw_only(),
            py::arg("concurrency") = 1, py::arg("progress") = py::none(),
            "Encrypts x with the client's keys, sends it to the served model `name`, decrypts the "
            "outputs: (count, output_size).");
}

}  // namespace henn::python
