#include <gtest/gtest.h>

#include "core/digest.hpp"

TEST(Digest, ParsesSha256) {
  EXPECT_TRUE(berth::Digest::parse("sha256:" + std::string(64, 'a')));
}
