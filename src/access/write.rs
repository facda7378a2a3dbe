//! Record ownership: who may create or replace a record.
//!
//! Reading rules say who sees a record; these say who may write one. A token
//! writes a feature only when
//!
//! 1. the layer is in its ingest list ([`Gate::may_ingest`]);
//! 2. the feature's owning component is one its role belongs to (owner `hr`:
//!    hr; `military`: military; `mission`: hr, military and jmac). Partners
//!    belong to no owning component, so a partner token writes nothing;
//! 3. when the id is already stored, the stored record's owner is also one
//!    the role belongs to, and the role may see that record individually
//!    (layer view, classification and consent, as [`Gate::features`]).
//!
//! Rules 2 and 3 give the caller one and the same wording: a refusal caused
//! by a stored record the caller cannot see must read exactly like one the
//! caller could have predicted from its own feature, so that it does not say
//! what the hidden record is or who owns it. The cause, for the server's log
//! only, is in [`AccessError::WriteRefused`]'s `cause`.

use super::view::{may_see, owner_roles};
use super::{AccessError, Gate, LayerView, Principal, Role};
use crate::model::{Feature, Layer, Owner};
use std::fmt;

/// Why a write was refused. For the operator's log: the caller is told the
/// same thing whatever the cause (see [`AccessError::WriteRefused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCause {
    /// The role owns no records at all (partner).
    OwnsNothing,
    /// The new feature's owner is not the role's component.
    NewOwner,
    /// The stored record with that id is owned by another component.
    ExistingOwner,
    /// The stored record with that id is one the role may not see.
    ExistingHidden,
}

impl WriteCause {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteCause::OwnsNothing => "role-owns-nothing",
            WriteCause::NewOwner => "new-owner-not-writable",
            WriteCause::ExistingOwner => "existing-owner-not-writable",
            WriteCause::ExistingHidden => "existing-record-hidden",
        }
    }
}

impl fmt::Display for WriteCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The owners whose records `role` may write, in a fixed order.
pub fn writable_owners(role: Role) -> Vec<Owner> {
    [Owner::Hr, Owner::Military, Owner::Mission]
        .into_iter()
        .filter(|o| owner_roles(*o).contains(&role))
        .collect()
}

/// What the caller is told for every refusal of rules 2 and 3. It depends
/// only on the token, never on the store.
fn refusal_text(p: &Principal) -> String {
    let owners = writable_owners(p.role);
    if owners.is_empty() {
        return format!(
            "token {:?} (role {}) may write no record: role {} owns none",
            p.name, p.role, p.role
        );
    }
    let owners: Vec<&str> = owners.iter().map(|o| o.as_str()).collect();
    format!(
        "token {:?} (role {}) may create or replace only records owned by {} that it may see",
        p.name,
        p.role,
        owners.join(" or ")
    )
}

impl Gate {
    /// Whether `p` may write `new` into `layer`, given the record stored under
    /// the same id (`existing`, read in the same write transaction), if any.
    /// `Err(Forbidden)` when the layer is not in the token's ingest list;
    /// `Err(WriteRefused)` when the ownership rules refuse it, with one
    /// wording whatever the cause (module documentation).
    pub fn may_write(
        &self,
        p: &Principal,
        layer: Layer,
        new: &Feature,
        existing: Option<&Feature>,
    ) -> Result<(), AccessError> {
        self.may_ingest(p, layer)?;
        let refuse = |cause| {
            Err(AccessError::WriteRefused {
                reason: refusal_text(p),
                cause,
            })
        };
        let mine = |o: Owner| owner_roles(o).contains(&p.role);
        if writable_owners(p.role).is_empty() {
            return refuse(WriteCause::OwnsNothing);
        }
        if !mine(new.owner) {
            return refuse(WriteCause::NewOwner);
        }
        if let Some(old) = existing {
            let individual = matches!(self.view(p, layer), LayerView::Full | LayerView::Redacted);
            if !(individual && may_see(p.role, layer, old)) {
                return refuse(WriteCause::ExistingHidden);
            }
            if !mine(old.owner) {
                return refuse(WriteCause::ExistingOwner);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::incident;
    use super::super::Policy;
    use super::*;

    fn token(role: Role, layers: &[Layer]) -> Principal {
        Principal {
            name: format!("{role}-desk"),
            role,
            ingest: layers.to_vec(),
        }
    }

    fn gate() -> Gate {
        Gate::new(Policy::default(), None).expect("default policy")
    }

    fn refused(r: Result<(), AccessError>) -> (String, WriteCause) {
        match r {
            Err(AccessError::WriteRefused { reason, cause }) => (reason, cause),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn owners_each_role_may_write() {
        assert_eq!(writable_owners(Role::Hr), [Owner::Hr, Owner::Mission]);
        assert_eq!(
            writable_owners(Role::Military),
            [Owner::Military, Owner::Mission]
        );
        assert_eq!(writable_owners(Role::Jmac), [Owner::Mission]);
        assert!(writable_owners(Role::Partner).is_empty());
    }

    #[test]
    fn a_new_record_needs_the_layer_and_an_owner_of_the_role() {
        let g = gate();
        let inc = Layer::Incidents;
        for (role, owner, ok) in [
            (Role::Hr, "hr", true),
            (Role::Hr, "mission", true),
            (Role::Hr, "military", false),
            (Role::Military, "military", true),
            (Role::Military, "mission", true),
            (Role::Military, "hr", false),
            (Role::Jmac, "mission", true),
            (Role::Jmac, "military", false),
            (Role::Jmac, "hr", false),
            (Role::Partner, "mission", false),
            (Role::Partner, "hr", false),
        ] {
            let f = incident("restricted", "mission", owner);
            let r = g.may_write(&token(role, &[inc]), inc, &f, None);
            assert_eq!(r.is_ok(), ok, "{role} writing owner {owner}: {r:?}");
        }
        // The layer list still comes first, with its own wording.
        let f = incident("public", "partners", "hr");
        let e = g
            .may_write(&token(Role::Hr, &[Layer::Sites]), inc, &f, None)
            .unwrap_err();
        assert!(matches!(e, AccessError::Forbidden { .. }), "{e:?}");
    }

    #[test]
    fn partners_write_nothing_and_are_told_so() {
        let f = incident("public", "partners", "mission");
        let (reason, cause) = refused(gate().may_write(
            &token(Role::Partner, &Layer::ALL),
            Layer::Incidents,
            &f,
            None,
        ));
        assert_eq!(cause, WriteCause::OwnsNothing);
        assert!(reason.contains("role partner owns none"), "{reason}");
    }

    /// The military token reusing the id of an hr-owned strictly-confidential
    /// incident is refused with exactly the words of writing an hr-owned
    /// record under a new id; the cause differs only in the log.
    #[test]
    fn replacing_a_hidden_record_reads_like_a_predictable_refusal() {
        let g = gate();
        let mil = token(Role::Military, &[Layer::Incidents]);
        let hidden = incident("strictly-confidential", "hr-only", "hr");
        let mine = incident("restricted", "mission", "military");
        let (hidden_reason, cause) =
            refused(g.may_write(&mil, Layer::Incidents, &mine, Some(&hidden)));
        assert_eq!(cause, WriteCause::ExistingHidden);
        let hr_owned = incident("restricted", "mission", "hr");
        let (new_reason, cause) = refused(g.may_write(&mil, Layer::Incidents, &hr_owned, None));
        assert_eq!(cause, WriteCause::NewOwner);
        assert_eq!(hidden_reason, new_reason);
        assert!(!hidden_reason.contains("strictly") && !hidden_reason.contains("hr-only"));
    }

    #[test]
    fn replacing_needs_the_stored_owner_and_sight_of_the_stored_record() {
        let g = gate();
        let inc = Layer::Incidents;
        let hr = token(Role::Hr, &[inc, Layer::Sightings]);
        let own = incident("strictly-confidential", "none", "hr");
        assert!(g.may_write(&hr, inc, &own, Some(&own)).is_ok());
        // A mission-owned record hr can see may be replaced by hr ...
        let shared = incident("mission", "mission", "mission");
        assert!(g.may_write(&hr, inc, &own, Some(&shared)).is_ok());
        // ... but not a military-owned one, even one hr can see.
        let theirs = incident("public", "partners", "military");
        let (_, cause) = refused(g.may_write(&hr, inc, &own, Some(&theirs)));
        assert_eq!(cause, WriteCause::ExistingOwner);
        // JMAC may write mission records, but not replace one it cannot see
        // (consent hr-only), even though its owner is mission.
        let jmac = token(Role::Jmac, &[inc]);
        let new = incident("mission", "mission", "mission");
        assert!(g.may_write(&jmac, inc, &new, Some(&new)).is_ok());
        let unseen = incident("mission", "hr-only", "mission");
        let (_, cause) = refused(g.may_write(&jmac, inc, &new, Some(&unseen)));
        assert_eq!(cause, WriteCause::ExistingHidden);
        // A layer hr sees only as aggregates: its stored records are hidden
        // individually, so hr may add sightings but not replace any.
        let sighting = |owner: &str| {
            let v = serde_json::json!({"type": "Feature", "id": "s-1",
                "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
                "properties": {"time_start": "2025-02-01T06:00:00Z", "owner": owner,
                    "classification": "public", "actor": "A", "activity": "checkpoint"}});
            Feature::from_geojson(Layer::Sightings, v, "").expect("valid sighting")
        };
        let s = sighting("hr");
        assert!(g.may_write(&hr, Layer::Sightings, &s, None).is_ok());
        let (_, cause) = refused(g.may_write(&hr, Layer::Sightings, &s, Some(&s)));
        assert_eq!(cause, WriteCause::ExistingHidden);
    }
}
