#pragma once
// Sign-in sessions of the portal: the cookie, its CSRF guard, and the /api/v1/session
// handlers (sessions.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "control/handlers.hpp"

namespace berth::control {

inline constexpr std::string_view kSessionCookie = "berth_session";
// Every request signed in by the cookie carries this header (any value).
inline constexpr std::string_view kCsrfHeader = "X-Berth-Request";

// The session cookie's value, when the request carries one.
std::optional<std::string> sessionCookie(const http::Request& req);
bool hasCsrfHeader(const http::Request& req);
Error csrfRefused();

// Sets the caller (and the registry) of a request signed in by the cookie `secret`, or returns
// the refusal.
std::optional<http::Response> authenticateSession(Call& c, const http::Request& req,
                                                  std::string_view secret);

Reply createSession(Call& c, const SessionOptions& options);
// Who a sign-in that answered `status` was, and the registry it named, for the audit log.
std::pair<std::string, std::string> signInAudit(const Call& c, int status);
Reply showSession(Call& c);
Reply deleteSession(Call& c);

}  // namespace berth::control
