#include "checks/stun/stun_check.hpp"

#include "checks/stun/stun_metrics.hpp"
#include "checks/stun/stun_result.hpp"

namespace callready::checks {

CheckKind stun_check_kind() {
  return make_check_kind<stun::StunParams, stun::StunResult>(
      "stun", Millis(20000),
      KindFunctions<stun::StunParams, stun::StunResult>{&stun::measure, &stun::judge, &stun::stun_view, &stun_metrics});
}

}  // namespace callready::checks
