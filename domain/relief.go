package domain

import (
	"fmt"
	"slices"
)

// Relief handed over on a visit (issue 16 item 7, decision 0122): 000 §1.2
// (class A cash and goods, class B festival gifts, class C one-off
// temporary relief) and §2.1 (慰问金或物资), acknowledged by the recipient.

// ReliefKind is what was handed over. Durable.
type ReliefKind string

const (
	ReliefCash         ReliefKind = "cash"             // 慰问金
	ReliefGoods        ReliefKind = "goods"            // 慰问物资
	ReliefFestivalGift ReliefKind = "festival_gift"    // 节日慰问品
	ReliefTemporary    ReliefKind = "temporary_relief" // 一次性临时救助 (cash)
)

// ReliefKinds lists the kinds.
func ReliefKinds() []ReliefKind {
	return []ReliefKind{ReliefCash, ReliefGoods, ReliefFestivalGift, ReliefTemporary}
}

var reliefLabels = map[ReliefKind]label{
	ReliefCash: {"cash", "慰问金"}, ReliefGoods: {"goods", "慰问物资"},
	ReliefFestivalGift: {"festival gift", "节日慰问品"}, ReliefTemporary: {"temporary relief", "临时救助"},
}

// Label returns how a relief kind is named to a person.
func (k ReliefKind) Label() (en, zh string) { return lookup(reliefLabels, k) }

// cash reports whether the kind is handed over as money (an amount).
func (k ReliefKind) cash() bool { return k == ReliefCash || k == ReliefTemporary }

// AckMethod is how the recipient acknowledged receipt. Durable.
type AckMethod string

const (
	AckSignature  AckMethod = "signature"  // 签字
	AckThumbprint AckMethod = "thumbprint" // 按手印
	AckPhoto      AckMethod = "photo"      // 拍照留证
)

// AckMethods lists the acknowledgement methods.
func AckMethods() []AckMethod { return []AckMethod{AckSignature, AckThumbprint, AckPhoto} }

// ReliefItem is a line of goods handed over.
type ReliefItem struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Unit     string `json:"unit,omitempty"`
}

// Relief is one handover on a visit: cash (AmountFen, in fen: 1 yuan is
// 100) or goods (Items), to a member of the household who acknowledged it
// (AckMethod, and AckRef: the reference of the signed form or photo in the
// attachment store, not the image).
type Relief struct {
	Kind      ReliefKind   `json:"kind"`
	AmountFen int64        `json:"amount_fen,omitempty"`
	Items     []ReliefItem `json:"items,omitempty"`
	Recipient string       `json:"recipient_member_id"`
	AckMethod AckMethod    `json:"ack_method"`
	AckRef    string       `json:"ack_ref,omitempty"`
}

// Bounds of a relief handover.
const (
	MaxReliefPerVisit = 10
	MaxReliefItems    = 20
	MaxReliefFen      = 100_000_00 // 100,000 yuan
	MaxReliefQuantity = 10_000
)

// checkRelief checks the relief handed over on a visit: only on a
// completed home visit, each with its amount or items, to a current member
// of the household, acknowledged.
func (h *Household) checkRelief(in RecordVisit) error {
	if len(in.Relief) == 0 {
		return nil
	}
	if in.Outcome != OutcomeCompleted || in.Mode != ModeHome {
		return newError(ErrRule, "relief_not_on_home_visit", "relief",
			"relief is handed over on a completed home visit only",
			"慰问金或物资只能在已完成的入户走访中发放")
	}
	if len(in.Relief) > MaxReliefPerVisit {
		return newError(ErrInvalid, "too_many", "relief", fmt.Sprintf("at most %d handovers per visit", MaxReliefPerVisit), fmt.Sprintf("每次走访最多记录 %d 项发放", MaxReliefPerVisit))
	}
	for _, r := range in.Relief {
		if !oneOf(r.Kind, ReliefKinds()...) {
			e := badValue("relief.kind", "relief kind", "慰问类别", r.Kind, ReliefKinds()...)
			e.Code = "invalid_relief_kind"
			return e
		}
		if r.Kind.cash() {
			if r.AmountFen <= 0 || r.AmountFen > MaxReliefFen || len(r.Items) > 0 {
				return newError(ErrInvalid, "invalid_relief_amount", "relief.amount_fen",
					fmt.Sprintf("%s is an amount in fen from 1 to %d (100,000 yuan), without items", r.Kind, MaxReliefFen),
					fmt.Sprintf("%s 须填写金额（以分计，1 到 %d，即 10 万元），不填物品", lookupZH(reliefLabels, r.Kind), MaxReliefFen))
			}
		} else {
			if len(r.Items) == 0 || len(r.Items) > MaxReliefItems || r.AmountFen != 0 {
				return newError(ErrInvalid, "invalid_relief_items", "relief.items",
					fmt.Sprintf("%s lists 1 to %d items, without an amount", r.Kind, MaxReliefItems),
					fmt.Sprintf("%s 须列出 1 到 %d 项物品，不填金额", lookupZH(reliefLabels, r.Kind), MaxReliefItems))
			}
			for _, it := range r.Items {
				if it.Name == "" || it.Quantity < 1 || it.Quantity > MaxReliefQuantity {
					return newError(ErrInvalid, "invalid_relief_items", "relief.items",
						fmt.Sprintf("each item has a name and a quantity from 1 to %d", MaxReliefQuantity),
						fmt.Sprintf("每项物品须有名称，数量为 1 到 %d", MaxReliefQuantity))
				}
				if err := CheckName("relief.items", it.Name); err != nil {
					return err
				}
				if err := CheckName("relief.items", it.Unit); err != nil {
					return err
				}
			}
		}
		if r.Recipient == "" {
			return required("relief.recipient_member_id", "the member who received the relief", "领取人（家庭成员）")
		}
		if m := h.member(r.Recipient); m == nil || m.Left {
			return newError(ErrRule, "relief_recipient_not_member", "relief.recipient_member_id",
				fmt.Sprintf("%s is not a current member of household %s; relief goes to a member of the household", Clip(r.Recipient, MaxEchoBytes), h.id),
				fmt.Sprintf("%s 不是家庭 %s 的现有成员；慰问须发放给本家庭成员", Clip(r.Recipient, MaxEchoBytes), h.id))
		}
		if !oneOf(r.AckMethod, AckMethods()...) {
			if r.AckMethod == "" {
				return required("relief.ack_method", "the recipient's acknowledgement (signature, thumbprint or photo)", "领取人确认方式（签字、按手印或拍照）")
			}
			e := badValue("relief.ack_method", "acknowledgement", "确认方式", r.AckMethod, AckMethods()...)
			e.Code = "invalid_ack_method"
			return e
		}
		if err := CheckName("relief.ack_ref", r.AckRef); err != nil {
			return err
		}
	}
	return nil
}

func lookupZH[K ~string](m map[K]label, k K) string {
	_, zh := lookup(m, k)
	return zh
}

// cloneRelief copies the relief of a visit.
func cloneRelief(rs []Relief) []Relief {
	if rs == nil {
		return nil
	}
	out := slices.Clone(rs)
	for i := range out {
		out[i].Items = slices.Clone(out[i].Items)
	}
	return out
}
