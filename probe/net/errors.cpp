#include "probe/net/errors.hpp"

#include <boost/asio/error.hpp>
#include <cerrno>

namespace callready::net {

const char* to_string(NetFailure f) {
  switch (f) {
    case NetFailure::refused:
      return "refused";
    case NetFailure::timeout:
      return "timeout";
    case NetFailure::unreachable:
      return "unreachable";
    case NetFailure::reset:
      return "reset";
    case NetFailure::closed:
      return "closed";
    case NetFailure::aborted:
      return "aborted";
    case NetFailure::local:
      return "local";
    case NetFailure::other:
      break;
  }
  return "other";
}

NetFailure classify(const boost::system::error_code& ec) {
  namespace e = boost::asio::error;
  if (ec == e::eof) return NetFailure::closed;
  if (ec == e::operation_aborted) return NetFailure::aborted;
  if (ec.category() != boost::system::system_category() && ec.category() != boost::system::generic_category())
    return NetFailure::other;
  switch (ec.value()) {
    case ECONNREFUSED:
      return NetFailure::refused;
    case ETIMEDOUT:
      return NetFailure::timeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return NetFailure::unreachable;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return NetFailure::reset;
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EACCES:
    case EPERM:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return NetFailure::local;
    default:
      return NetFailure::other;
  }
}

CheckError local_error(Operation operation, const std::string& what, const boost::system::error_code& ec) {
  return CheckError{ErrorReason::local, operation,
                    std::string(to_string(operation)) + " " + what + ": " + ec.message()};
}

}  // namespace callready::net
