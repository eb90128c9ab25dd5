package testutil

import (
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// bigIAMCreated is the creation time of every user BigIAM builds.
var bigIAMCreated = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// BigIAM returns n users, the content of a config DB for benchmarks and
// size tests, in one of two shapes:
//
//   - groups == 0: no groups; each user has a random id and access key and
//     one rule (read and list on bucket-<i%50>/*);
//   - groups > 0: users spread over that many groups, each group granting
//     read and list on its team's prefix; each user has a deterministic id
//     and access key id and two rules of its own (all actions on its home
//     prefix, no delete under archive/).
//
// Secrets are random.
func BigIAM(n, groups int) ([]iam.User, []iam.Group) {
	if groups == 0 {
		users := make([]iam.User, n)
		for i := range users {
			users[i] = iam.User{
				ID: iam.NewID(), Name: fmt.Sprintf("user-%05d", i),
				AccessKeyID: iam.NewAccessKeyID(), SecretAccessKey: iam.NewSecretAccessKey(),
				Enabled: true, CreatedAt: bigIAMCreated,
				Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead, iam.ActionList},
					Resources: []string{fmt.Sprintf("bucket-%d/*", i%50)}}},
			}
		}
		return users, nil
	}
	gs := make([]iam.Group, 0, groups)
	for g := range groups {
		gs = append(gs, iam.Group{
			ID: fmt.Sprintf("g%02d", g), Name: fmt.Sprintf("group-%02d", g), Description: "benchmark group",
			Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead, iam.ActionList}, Resources: []string{fmt.Sprintf("team-%d/*", g)}}},
		})
	}
	users := make([]iam.User, 0, n)
	for i := range n {
		u := iam.User{
			ID: fmt.Sprintf("u%06d", i), Name: fmt.Sprintf("user-%06d", i),
			AccessKeyID: fmt.Sprintf("AK%018d", i), SecretAccessKey: iam.NewSecretAccessKey(),
			Enabled: true, CreatedAt: bigIAMCreated, GroupIDs: []string{gs[i%groups].ID},
			Permissions: []iam.Rule{
				{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionAll}, Resources: []string{fmt.Sprintf("home/u%06d/*", i)}},
				{Effect: iam.EffectDeny, Actions: []iam.Action{iam.ActionDelete}, Resources: []string{"archive/*"}},
			},
		}
		users = append(users, u)
		gs[i%groups].MemberIDs = append(gs[i%groups].MemberIDs, u.ID)
	}
	return users, gs
}

// Pattern returns n deterministic bytes (xorshift32) that do not compress
// well enough to hide an off-by-one in a transfer.
func Pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
