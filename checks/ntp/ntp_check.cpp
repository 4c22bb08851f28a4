#include "checks/ntp/ntp_check.hpp"

#include "checks/ntp/ntp_metrics.hpp"
#include "checks/ntp/ntp_result.hpp"

namespace callready::checks {

CheckKind ntp_check_kind() {
  return make_check_kind<ntp::NtpParams, ntp::NtpResult>(
      "ntp", Millis(15000),
      KindFunctions<ntp::NtpParams, ntp::NtpResult>{&ntp::measure, &ntp::judge, &ntp::ntp_view, &ntp_metrics});
}

}  // namespace callready::checks
