// A profile file: loading (bounded depth, plain scans, every kind's params
// validation), plan building with and without --set, and `profiles show`.
#include "probe/profile.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready;

CALLREADY_FUZZ_TARGET(profile) {
  auto load = load_profile_text(fuzz::text_of(data, size), "fuzz.json");
  CALLREADY_FUZZ_CHECK(load.profile.has_value() != !load.errors.empty());
  if (!load.profile) return 0;
  PlanOptions plain;
  auto plan = build_plan(*load.profile, plain);
  if (plan.plan) (void)plan_to_json(*plan.plan, *load.profile).dump();
  PlanOptions filled;
  for (const auto& v : load.profile->variables) filled.sets[v.name] = "192.0.2.1";
  filled.responder = "192.0.2.2";
  auto with_sets = build_plan(*load.profile, filled);
  if (with_sets.plan) (void)plan_to_json(*with_sets.plan, *load.profile).dump();
  return 0;
}
