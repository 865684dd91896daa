// GoogleTest main for suites that read data sets: accepts --data-dir=DIR.
#include <gtest/gtest.h>

#include "test_data.hpp"

int main(int argc, char** argv) {
    henn::test::parse_data_dir(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
