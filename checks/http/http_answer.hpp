// What the http kind reads from an answer: the parser's limits and the
// header fields it records. One place, so the fetch and its fuzz target
// (tests/fuzz/http_fuzz.cpp) run the same code.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>

#include "checks/http/http_check.hpp"

namespace callready::checks::http {

inline constexpr std::uint32_t kMaxAnswerHeader = 32 * 1024;
inline constexpr std::uint64_t kMaxAnswerBody = 1024 * 1024;

using AnswerParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

// The check's limits on `parser`; the answer to a HEAD has no body.
void limit_answer(AnswerParser& parser, bool head);

// Status, reason, Server, Location (on a 3xx), Date and its offset from
// `local`, the time the answer began to arrive.
void take_header(HttpAttempt& a, const AnswerParser& parser, std::chrono::system_clock::time_point local);

}  // namespace callready::checks::http
