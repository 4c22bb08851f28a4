// The one classifier of socket errors: network findings apart from local faults.
#include <doctest/doctest.h>

#include <boost/asio/error.hpp>
#include <cerrno>

#include "probe/net/errors.hpp"

using namespace callready;
using namespace callready::net;

namespace {
boost::system::error_code sys(int e) { return {e, boost::system::system_category()}; }
}  // namespace

TEST_CASE("what the network did") {
  CHECK(classify(sys(ECONNREFUSED)) == NetFailure::refused);
  CHECK(classify(sys(ETIMEDOUT)) == NetFailure::timeout);
  CHECK(classify(sys(EHOSTUNREACH)) == NetFailure::unreachable);
  CHECK(classify(sys(ENETUNREACH)) == NetFailure::unreachable);
  CHECK(classify(sys(ECONNRESET)) == NetFailure::reset);
  CHECK(classify(sys(EPIPE)) == NetFailure::reset);
  CHECK(classify(boost::asio::error::eof) == NetFailure::closed);
  CHECK(classify(boost::asio::error::operation_aborted) == NetFailure::aborted);
  CHECK(classify(boost::asio::error::connection_refused) == NetFailure::refused);
}

TEST_CASE("what this machine could not do is local, never a finding") {
  for (int e : {EADDRINUSE, EADDRNOTAVAIL, EMFILE, ENFILE, EACCES, EPERM, EAFNOSUPPORT})
    CHECK(classify(sys(e)) == NetFailure::local);
  auto err = local_error(Operation::bind, "0.0.0.0:5060", sys(EADDRINUSE));
  CHECK(err.reason == ErrorReason::local);
  CHECK(err.operation == Operation::bind);
  CHECK(err.message.starts_with("bind 0.0.0.0:5060: "));
}

TEST_CASE("names are the words findings and JSON use") {
  CHECK(std::string(to_string(NetFailure::refused)) == "refused");
  CHECK(std::string(to_string(NetFailure::unreachable)) == "unreachable");
  CHECK(classify(boost::system::error_code(1, boost::system::generic_category())) == NetFailure::local);  // EPERM
  CHECK(classify(boost::asio::error::make_error_code(boost::asio::error::misc_errors::not_found)) == NetFailure::other);
}
