use super::*;
use crate::checks;
use crate::testing;

fn plan_of(id: &str) -> Plan {
    let snap = testing::scenario(id);
    let ctx = Ctx::new(&snap);
    let findings = checks::run_with(&ctx);
    build(&ctx, &findings, &Scope::default())
}

#[test]
fn debug_print_all() {
    for id in ["B0","S1","S2","S3","S4","S5","S6","S6b","S7","S8","S9","S10","S11","S12","S13","S14","S15","S16","S17","S18","S19","S20","L0","M1"] {
        let p = plan_of(id);
        println!("=== {id}");
        for a in &p.actions {
            println!("{:>2} {:?} {} {} {:?} after={:?} codes={:?}", a.step, a.tag, a.op.describe(), a.object, a.why.first(), a.after, a.codes);
        }
        for u in &p.untouched {
            println!("   - {} : {} [{:?}]", u.object, u.reason.chars().take(150).collect::<String>(), u.expected_by);
        }
        for g in &p.github_leftovers { println!("   gh {} {} {}", g.kind, g.id, g.name); }
    }
}
