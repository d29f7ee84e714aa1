//! The metadata-scale dataset: how many projects, repositories, artifacts, tags, users,
//! members and audit records, and what every one of them is called. Seeding and
//! measuring both derive their names from here, so a measurement run finds exactly what
//! an earlier seeding run created.
//!
//! The `small` size is the one Harbor's own performance suite calls small: 100 projects,
//! 10,000 repositories, 100,000 artifacts, 500,000 tags, 100 users, 100,000 audit records.

use anyhow::{Result, bail};

/// Everything is prefixed with this, so the dataset never collides with other content
/// (e.g. `library`, or the repositories of the other scenarios).
pub const PREFIX: &str = "md";

/// Password of the seeded users: they are never used to log in, but Harbor's password
/// rule (upper, lower, digit, 8+) still applies.
pub const USER_PASSWORD: &str = "Bench-user-pass1";

/// Roles handed out to members in turn: developer, guest, maintainer.
const MEMBER_ROLES: [i64; 3] = [2, 3, 4];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// Harbor's "small": 100 projects, 10,000 repositories, 100,000 artifacts.
    Small,
    /// One hundredth of small, for a quick check and for the tests.
    Tiny,
}

/// The shape of the dataset. Every repository has the same number of artifacts and every
/// artifact the same number of tags, so counts are products and names are positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub projects: u64,
    pub repos_per_project: u64,
    pub artifacts_per_repo: u64,
    pub tags_per_artifact: u64,
    pub users: u64,
    pub members_per_project: u64,
    pub audit_records: u64,
}

impl Plan {
    pub fn of(scale: Scale) -> Plan {
        let small = Plan {
            projects: 100,
            repos_per_project: 100,
            artifacts_per_repo: 10,
            tags_per_artifact: 5,
            users: 100,
            members_per_project: 3,
            audit_records: 100_000,
        };
        match scale {
            Scale::Small => small,
            // 1/100 of every total: the repositories of one project, with the same
            // artifacts and tags each, so per-repository listings look alike at both sizes.
            Scale::Tiny => Plan {
                projects: 1,
                users: 1,
                audit_records: 1_000,
                ..small
            },
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.projects == 0
            || self.repos_per_project == 0
            || self.artifacts_per_repo == 0
            || self.tags_per_artifact == 0
        {
            bail!("a dataset needs at least one project, repository, artifact and tag");
        }
        if self.projects > 1000 || self.repos_per_project > 1000 || self.users > 10_000 {
            bail!("names are numbered with 3 (users: 4) digits: the plan is too large");
        }
        Ok(())
    }

    pub fn repositories(&self) -> u64 {
        self.projects * self.repos_per_project
    }

    pub fn artifacts(&self) -> u64 {
        self.repositories() * self.artifacts_per_repo
    }

    pub fn tags(&self) -> u64 {
        self.artifacts() * self.tags_per_artifact
    }

    pub fn tags_per_repo(&self) -> u64 {
        self.artifacts_per_repo * self.tags_per_artifact
    }

    /// Memberships: a few users per project, never more than there are users.
    pub fn members(&self) -> u64 {
        self.projects * self.members_per_project.min(self.users)
    }

    /// Repository `i` of the whole dataset (0..repositories) as (project, repository).
    pub fn repo_at(&self, i: u64) -> (u64, u64) {
        (i / self.repos_per_project, i % self.repos_per_project)
    }

    /// The seeded members of project `p`: (user index, Harbor role id).
    pub fn members_of(&self, p: u64) -> Vec<(u64, i64)> {
        let n = self.members_per_project.min(self.users);
        (0..n)
            .map(|k| {
                let user = (p * self.members_per_project + k) % self.users;
                (user, MEMBER_ROLES[(k as usize) % MEMBER_ROLES.len()])
            })
            .collect()
    }
}

pub fn project_name(p: u64) -> String {
    format!("{PREFIX}-p{p:03}")
}

/// The repository's name inside its project (what the admin API's paths take).
pub fn repo_short(r: u64) -> String {
    format!("r{r:03}")
}

/// The full repository name (`project/repository`, what `/v2` paths take).
pub fn repo_name(p: u64, r: u64) -> String {
    format!("{}/{}", project_name(p), repo_short(r))
}

/// Tag `t` of artifact `a` of a repository: `a003-t1`. Sorted by name, the tags of one
/// artifact are adjacent.
pub fn tag_name(a: u64, t: u64) -> String {
    format!("a{a:03}-t{t}")
}

pub fn user_name(u: u64) -> String {
    format!("{PREFIX}-user-{u:04}")
}

pub fn user_email(u: u64) -> String {
    format!("{}@bench.example.org", user_name(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_is_harbors_small() {
        let p = Plan::of(Scale::Small);
        p.check().unwrap();
        assert_eq!(p.projects, 100);
        assert_eq!(p.repositories(), 10_000);
        assert_eq!(p.artifacts(), 100_000);
        assert_eq!(p.tags(), 500_000);
        assert_eq!(p.users, 100);
        assert_eq!(p.audit_records, 100_000);
        assert_eq!(p.members(), 300);
        assert_eq!(p.tags_per_repo(), 50);
    }

    #[test]
    fn tiny_is_a_hundredth() {
        let small = Plan::of(Scale::Small);
        let tiny = Plan::of(Scale::Tiny);
        tiny.check().unwrap();
        assert_eq!(tiny.repositories() * 100, small.repositories());
        assert_eq!(tiny.artifacts() * 100, small.artifacts());
        assert_eq!(tiny.tags() * 100, small.tags());
        assert_eq!(tiny.users * 100, small.users);
        assert_eq!(tiny.audit_records * 100, small.audit_records);
        // One user: each project gets one member, not three copies of it.
        assert_eq!(tiny.members(), 1);
        assert_eq!(tiny.members_of(0), vec![(0, 2)]);
    }

    #[test]
    fn repository_positions_cover_every_project_once() {
        let p = Plan::of(Scale::Small);
        assert_eq!(p.repo_at(0), (0, 0));
        assert_eq!(p.repo_at(99), (0, 99));
        assert_eq!(p.repo_at(100), (1, 0));
        assert_eq!(p.repo_at(p.repositories() - 1), (99, 99));
        let mut seen = std::collections::HashSet::new();
        for i in 0..p.repositories() {
            let (proj, repo) = p.repo_at(i);
            assert!(seen.insert(repo_name(proj, repo)));
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn members_are_distinct_users_with_valid_roles() {
        let p = Plan::of(Scale::Small);
        for proj in 0..p.projects {
            let m = p.members_of(proj);
            assert_eq!(m.len(), 3);
            let users: std::collections::HashSet<u64> = m.iter().map(|(u, _)| *u).collect();
            assert_eq!(users.len(), 3, "project {proj}");
            assert!(m.iter().all(|(u, r)| *u < p.users && (1..=5).contains(r)));
        }
        // Every user belongs to some project.
        let all: std::collections::HashSet<u64> = (0..p.projects)
            .flat_map(|proj| p.members_of(proj))
            .map(|(u, _)| u)
            .collect();
        assert_eq!(all.len(), 100);
    }

    #[test]
    fn names() {
        assert_eq!(project_name(7), "md-p007");
        assert_eq!(repo_name(7, 42), "md-p007/r042");
        assert_eq!(repo_short(42), "r042");
        assert_eq!(tag_name(3, 1), "a003-t1");
        assert_eq!(user_name(5), "md-user-0005");
        assert_eq!(user_email(5), "md-user-0005@bench.example.org");
        // Tags of one artifact sort together, artifacts in order.
        let p = Plan::of(Scale::Small);
        let mut tags: Vec<String> = (0..p.artifacts_per_repo)
            .flat_map(|a| (0..p.tags_per_artifact).map(move |t| tag_name(a, t)))
            .collect();
        let ordered = tags.clone();
        tags.sort();
        assert_eq!(tags, ordered);
    }

    #[test]
    fn bad_plans_are_refused() {
        let mut p = Plan::of(Scale::Tiny);
        p.artifacts_per_repo = 0;
        assert!(p.check().is_err());
        let mut p = Plan::of(Scale::Small);
        p.projects = 5000;
        assert!(p.check().is_err());
    }
}
