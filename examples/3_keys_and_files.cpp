// Example 3, keys and files for a client and a server. The client makes the keys, keeps the
// secret key in a file only it can read (mode 0600 from creation, henn/files.hpp), and sends the
// server the parameters, the evaluation keys and a ciphertext as files. The server, which never
// sees the secret key, loads them (every loader validates untrusted bytes), computes
// 3x^2 + rotation, and writes the result; the client decrypts it. Everything lives in a private
// temporary directory removed at the end. Exit status 0 if the result is right to 2^-20.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/files.hpp"

using namespace henn;
namespace fs = std::filesystem;

namespace {
std::vector<std::uint8_t> read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write(const fs::path& path, const std::vector<std::uint8_t>& bytes,
           FileAccess access = FileAccess::shared) {
    write_file_atomically(path, bytes, access);
}

// The client side: keys and an encrypted input.
void client_prepare(const fs::path& dir, const std::vector<double>& x) {
    const auto ctx = ckks::Context::create(ckks::ParametersLiteral::for_depth(1, 40));
    ckks::KeyGenerator keygen(ctx);
    write(dir / "secret.key", ckks::save(*ctx, keygen.secret_key()), FileAccess::owner_only);
    write(dir / "params.bin", ckks::save_parameters(*ctx));
    write(dir / "relin.key", ckks::save(*ctx, keygen.relinearization_key()));
    write(dir / "galois.key", ckks::save(*ctx, keygen.galois_keys({1})));
    const ckks::Encoder encoder(ctx);
    const ckks::Encryptor encryptor(ctx, keygen.public_key());
    write(dir / "x.ct", ckks::save(*ctx, encryptor.encrypt(encoder.encode(x))));
}

// The server side: parameters, evaluation keys and the input, no secret key.
void server_compute(const fs::path& dir) {
    const auto ctx = ckks::load_parameters(read(dir / "params.bin"));
    auto keys = std::make_shared<ckks::EvaluationKeys>();
    keys->relinearization = ckks::load_relinearization_key(*ctx, read(dir / "relin.key"));
    keys->galois = ckks::load_galois_keys(*ctx, read(dir / "galois.key"));
    const ckks::Evaluator evaluator(ctx, keys);
    const ckks::Ciphertext x = ckks::load_ciphertext(*ctx, read(dir / "x.ct"));
    const ckks::Ciphertext squared = evaluator.rescale(evaluator.square_relin(x));
    const ckks::Ciphertext y =
        evaluator.add(evaluator.multiply_integer(squared, 3), evaluator.rotate(squared, 1));
    write(dir / "y.ct", ckks::save(*ctx, y));
}

// The client again: decrypt with the secret key from its file.
std::vector<double> client_decrypt(const fs::path& dir, std::size_t count) {
    const auto ctx = ckks::load_parameters(read(dir / "params.bin"));
    const ckks::SecretKey secret = ckks::load_secret_key(*ctx, read(dir / "secret.key"));
    const ckks::Decryptor decryptor(ctx, secret);
    const ckks::Encoder encoder(ctx);
    std::vector<double> y =
        encoder.decode_real(decryptor.decrypt(ckks::load_ciphertext(*ctx, read(dir / "y.ct"))));
    y.resize(count);
    return y;
}
}  // namespace

int main() {
    std::string pattern = (fs::temp_directory_path() / "henn-example-3-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return 1;  // mode 0700
    const fs::path dir = pattern;
    int status = 1;
    try {
        const std::vector<double> x = {1.0, -2.0, 0.5, 4.0};
        client_prepare(dir, x);
        struct stat st {};
        ::stat((dir / "secret.key").c_str(), &st);
        std::printf("client: secret.key mode %03o; sent to the server:", st.st_mode & 0777);
        for (const char* f : {"params.bin", "relin.key", "galois.key", "x.ct"}) {
            std::printf(" %s (%ju bytes)", f, static_cast<std::uintmax_t>(fs::file_size(dir / f)));
        }
        std::printf("\n");
        server_compute(dir);
        const std::vector<double> y = client_decrypt(dir, x.size());
        std::vector<double> expected;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double next = i + 1 < x.size()
                                    ? x[i + 1]
                                    : 0.0;  // the rotation brings in slot i+1 (zero past the data)
            expected.push_back(3 * x[i] * x[i] + next * next);
        }
        const ckks::PrecisionStats stats = ckks::precision(y, expected);
        for (std::size_t i = 0; i < y.size(); ++i)
            std::printf("  slot %zu: %.6f (exact %g)\n", i, y[i], expected[i]);
        std::printf("precision %.1f bits\n", stats.min_bits);
        status = stats.min_bits > 20 && (st.st_mode & 0777) == 0600 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
    }
    fs::remove_all(dir);
    return status;
}
