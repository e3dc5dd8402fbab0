#pragma once
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/client/error.hpp"

namespace berth::cli::client {

// What a command prints: a JSON value shaped by --output and --query, or nothing.
using Output = std::optional<boost::json::value>;
using Run = std::function<Output()>;

// A command that prints its result and still fails (check-health with failed checks).
class FailureAfterOutput : public ClientError {
 public:
  FailureAfterOutput(boost::json::value output, const std::string& message)
      : ClientError(message), output_(std::move(output)) {}
  const boost::json::value& output() const { return output_; }

 private:
  boost::json::value output_;
};

// Builds the client's commands. Each command gets the global options --output/-o and --query,
// and once CLI11 has parsed it, its run function becomes `action`: it prints the result, or one
// line on stderr and exit status 1.
class CommandSet {
 public:
  explicit CommandSet(std::function<int()>& action);

  // A group such as `berth registry`: needs one of its subcommands.
  CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description);
  // `defaultFormat` is what --output is when not given.
  CLI::App* command(CLI::App& parent, const std::string& name, const std::string& description,
                    Run run, std::string defaultFormat = "json");

 private:
  struct Globals {
    std::string output;  // empty: the command's default
    std::string query;
  };
  std::function<int()>* action_;
  std::shared_ptr<Globals> globals_;
};

}  // namespace berth::cli::client
