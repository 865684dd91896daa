// Writes valid serialized objects (several modes each) as seed corpora for the fuzz targets:
// make_corpus DIR creates DIR/<loader>/seed-*.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz_context.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"

using namespace henn::ckks;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: henn_fuzz_corpus DIR\n";
        return 2;
    }
    const std::filesystem::path root = argv[1];
    const ContextPtr ctx = henn::fuzz::fuzz_context();
    KeyGenerator keygen(ctx, henn::math::test_only_seed(1));
    const Encoder encoder(ctx);
    const Encryptor sk_enc(ctx, keygen.secret_key());
    const Encryptor pk_enc(ctx, keygen.public_key());
    std::vector<double> values = {0.5, -0.25, 1.0, 0.125};
    const Plaintext pt = encoder.encode(values);
    const Ciphertext seeded = sk_enc.encrypt(pt);
    const Ciphertext fresh = pk_enc.encrypt(pt);
    const Evaluator ev(ctx);
    const Ciphertext size3 = ev.multiply(fresh, fresh);

    int count = 0;
    auto write = [&](const std::string& loader, const std::vector<std::uint8_t>& blob) {
        std::filesystem::create_directories(root / loader);
        std::ofstream out(root / loader / ("seed-" + std::to_string(count++)), std::ios::binary);
        out.write(reinterpret_cast<const char*>(blob.data()),
                  static_cast<std::streamsize>(blob.size()));
    };
    const std::vector<SaveOptions> modes = {{Compression::kNone, 1, false},
                                            {Compression::kNone, 1, true},
                                            {Compression::kZstd, 1, true}};
    for (const auto& mode : modes) {
        write("parameters", save_parameters(*ctx, mode));
        write("ciphertext", save(*ctx, seeded, mode));
        write("ciphertext", save(*ctx, fresh, mode));
        write("ciphertext", save(*ctx, size3, mode));
        write("plaintext", save(*ctx, pt, mode));
        write("secret_key", save(*ctx, keygen.secret_key(), mode));
        write("public_key", save(*ctx, keygen.public_key(), mode));
        write("relinearization_key", save(*ctx, keygen.relinearization_key(), mode));
        write("galois_keys", save(*ctx, keygen.galois_keys({1, 3}, true), mode));
        write("evaluation_keys", save(*ctx, keygen.evaluation_keys({1, -2}, true), mode));
        // Keys below the top level (format version 2: a level before each key's digits).
        write("relinearization_key", save(*ctx, keygen.relinearization_key(0), mode));
        write("galois_keys",
              save(*ctx, keygen.levelled_galois_keys({{1, 0}, {-3, 1}}, true, 0), mode));
        EvaluationKeys levelled;
        levelled.relinearization = keygen.relinearization_key(0);
        levelled.galois = keygen.levelled_galois_keys({{2, 0}}, false);
        write("evaluation_keys", save(*ctx, levelled, mode));
    }
    std::cout << "wrote " << count << " seeds under " << root << "\n";
    return 0;
}
