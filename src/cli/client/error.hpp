#pragma once
#include <stdexcept>

namespace berth::cli::client {

// A failure the user sees as one line on stderr. Messages never carry a secret.
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace berth::cli::client
