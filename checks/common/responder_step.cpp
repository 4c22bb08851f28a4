#include "checks/common/responder_step.hpp"

namespace callready::checks {

boost::asio::awaitable<ResponderStep> resolve_and_ask(CheckContext& ctx, const std::string& host,
                                                      std::optional<std::uint16_t> control_port,
                                                      std::optional<std::string> token) {
  ResponderStep step;
  auto resolving = checks::resolve_target(ctx, host);
  step.lookup = co_await std::move(resolving);
  if (!step.resolved()) co_return step;
  auto asking = ctx.responder.ask(step.address(), control_port, std::move(token), ctx.budget(Millis(3000)));
  step.info = co_await std::move(asking);
  co_return step;
}

}  // namespace callready::checks
