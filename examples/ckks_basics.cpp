// The README's C++ example: keys on the client, evaluation keys on the server, a product and a
// rotation under encryption, precision in bits.
#include <iostream>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"

int main() {
    using namespace henn::ckks;
    // Parameters for 2 multiplications at scale 2^40; refused if not 128-bit secure.
    ContextPtr ctx = Context::create(ParametersLiteral::for_depth(/*depth=*/2, /*scale_bits=*/40));

    // Client: keys. The secret key never leaves this side.
    KeyGenerator keygen(ctx);
    auto eval_keys =
        std::make_shared<EvaluationKeys>(keygen.evaluation_keys(/*rotation_steps=*/{1}));
    Encoder encoder(ctx);
    Encryptor encryptor(ctx, keygen.public_key());
    Decryptor decryptor(ctx, keygen.secret_key());

    std::vector<double> x = {1.0, 2.0, 3.0, 4.0};
    std::vector<std::uint8_t> wire = save(*ctx, encryptor.encrypt(encoder.encode(x)));

    // Server: only the evaluation keys. x * x, rescaled, rotated left by one slot.
    Evaluator evaluator(ctx, eval_keys);
    Ciphertext ct = load_ciphertext(*ctx, wire);
    Ciphertext squared = evaluator.rescale(evaluator.square_relin(ct));
    Ciphertext rotated = evaluator.rotate(squared, 1);

    // Client: decrypt.
    std::vector<double> result = encoder.decode_real(decryptor.decrypt(rotated));
    std::vector<double> expected = {4.0, 9.0, 16.0, 0.0};
    result.resize(4);
    PrecisionStats stats = precision(result, expected);
    for (double v : result) std::cout << v << " ";
    std::cout << "\nprecision: " << stats.min_bits << " bits\n";
    return stats.min_bits > 20 ? 0 : 1;
}
