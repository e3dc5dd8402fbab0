#pragma once
// A development CA and a server certificate signed by it, for local HTTPS.
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace berth::tls {

// Writes ca.crt, ca.key, server.crt and server.key (keys mode 0600) into `dir`. The server
// certificate names localhost, 127.0.0.1, ::1 and every entry of `hosts` (DNS or IP).
Result<void> writeDevCertificates(const std::filesystem::path& dir,
                                  const std::vector<std::string>& hosts);

}  // namespace berth::tls
