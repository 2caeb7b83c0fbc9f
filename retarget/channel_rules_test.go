package retarget

import (
	"testing"

	"github.com/retarget-dev/retarget/ir"
)

// TestEveryKindHasAChannelRule: every layer kind says how a resize of its
// input follows through it, or why it cannot.
func TestEveryKindHasAChannelRule(t *testing.T) {
	for _, k := range ir.Kinds() {
		r, ok := channelRules[k]
		why, no := cannotFollow[k]
		switch {
		case ok && r.follow != nil && no:
			t.Errorf("%s has a channel rule and a reason it cannot be followed (%s)", k, why)
		case (!ok || r.follow == nil) && !no:
			t.Errorf("%s has no channel rule and no cannotFollow entry: register one in channel_rules.go", k)
		}
	}
}
