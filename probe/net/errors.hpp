#pragma once
// The one place that sorts socket errors. Every check turns an error_code
// into either a finding about the network (refused, timeout, unreachable,
// reset, closed) or, when the fault is this machine's (cannot bind, out of
// descriptors, not permitted), an error with reason `local`.
#include <boost/system/error_code.hpp>
#include <string>

#include "probe/model.hpp"

namespace callready::net {

enum class NetFailure {
  refused,      // the far end (or a firewall's REJECT) answered "no"
  timeout,      // nothing came back in time
  unreachable,  // no route, or an ICMP unreachable
  reset,        // the connection was reset or broken mid-way
  closed,       // the far end closed it cleanly (EOF)
  aborted,      // we cancelled it
  local,        // this machine's fault: bind, descriptors, permission, family
  other,
};

const char* to_string(NetFailure);  // "refused", "timeout", ...
NetFailure classify(const boost::system::error_code& ec);

// "<operation> <what>: <system message>", e.g. "bind 0.0.0.0:5060: Address already in use".
CheckError local_error(Operation operation, const std::string& what, const boost::system::error_code& ec);

}  // namespace callready::net
