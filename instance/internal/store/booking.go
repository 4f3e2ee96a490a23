package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sproudstack/sproudchat/instance"
	"github.com/sproudstack/sproudchat/instance/internal/booking"
)

// Booking implements booking.Store.
type Booking struct{ db *DB }

// NewBooking returns the booking store of db.
func NewBooking(db *DB) *Booking { return &Booking{db: db} }

var _ booking.Store = (*Booking)(nil)

type bookingTypeRow struct {
	ID                  int64 `gorm:"primaryKey"`
	Name                string
	Slug                string
	Description         string
	DurationMinutes     int
	BufferBeforeMinutes int
	BufferAfterMinutes  int
	MinNoticeMinutes    int
	HorizonDays         int
	Active              bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

func (bookingTypeRow) TableName() string { return "booking_types" }

func toTypeRow(t booking.Type) bookingTypeRow {
	return bookingTypeRow{ID: t.ID, Name: t.Name, Slug: t.Slug, Description: t.Description, DurationMinutes: t.DurationMinutes,
		BufferBeforeMinutes: t.BufferBeforeMinutes, BufferAfterMinutes: t.BufferAfterMinutes, MinNoticeMinutes: t.MinNoticeMinutes,
		HorizonDays: t.HorizonDays, Active: t.Active, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

func (r bookingTypeRow) domain(agents []int64) booking.Type {
	return booking.Type{ID: r.ID, Name: r.Name, Slug: r.Slug, Description: r.Description, DurationMinutes: r.DurationMinutes,
		BufferBeforeMinutes: r.BufferBeforeMinutes, BufferAfterMinutes: r.BufferAfterMinutes, MinNoticeMinutes: r.MinNoticeMinutes,
		HorizonDays: r.HorizonDays, AgentIDs: agents, Active: r.Active, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func setTypeAgents(tx *gorm.DB, typeID int64, agents []int64) error {
	if err := tx.Exec("DELETE FROM booking_type_agents WHERE type_id = ?", typeID).Error; err != nil {
		return err
	}
	for _, a := range agents {
		if err := tx.Exec("INSERT INTO booking_type_agents (type_id, user_id) VALUES (?, ?)", typeID, a).Error; err != nil {
			return translate(err)
		}
	}
	return nil
}

// CreateType stores t with its agents and sets its ID. Returns instance.ErrConflict for
// a slug in use.
func (s *Booking) CreateType(ctx context.Context, t *booking.Type) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := toTypeRow(*t)
		if err := tx.Create(&row).Error; err != nil {
			return translate(err)
		}
		t.ID = row.ID
		return setTypeAgents(tx, t.ID, t.AgentIDs)
	})
}

// UpdateType returns instance.ErrNotFound, or instance.ErrConflict for a slug in use.
func (s *Booking) UpdateType(ctx context.Context, t booking.Type) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := toTypeRow(t)
		res := tx.Model(&bookingTypeRow{}).Where("id = ?", t.ID).Updates(map[string]any{"name": row.Name, "slug": row.Slug,
			"description": row.Description, "duration_minutes": row.DurationMinutes, "buffer_before_minutes": row.BufferBeforeMinutes,
			"buffer_after_minutes": row.BufferAfterMinutes, "min_notice_minutes": row.MinNoticeMinutes, "horizon_days": row.HorizonDays,
			"active": row.Active, "updated_at": row.UpdatedAt})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return instance.ErrNotFound
		}
		return setTypeAgents(tx, t.ID, t.AgentIDs)
	})
}

func (s *Booking) typeAgents(ctx context.Context, ids []int64) (map[int64][]int64, error) {
	var rows []struct{ TypeID, UserID int64 }
	if err := s.db.gorm.WithContext(ctx).Raw("SELECT type_id, user_id FROM booking_type_agents WHERE type_id IN ? ORDER BY user_id", ids).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[int64][]int64{}
	for _, r := range rows {
		out[r.TypeID] = append(out[r.TypeID], r.UserID)
	}
	return out, nil
}

func (s *Booking) findType(ctx context.Context, where string, arg any) (booking.Type, error) {
	var r bookingTypeRow
	if err := s.db.gorm.WithContext(ctx).Where(where, arg).Take(&r).Error; err != nil {
		return booking.Type{}, translate(err)
	}
	agents, err := s.typeAgents(ctx, []int64{r.ID})
	return r.domain(agents[r.ID]), err
}

// FindType returns instance.ErrNotFound for an unknown id.
func (s *Booking) FindType(ctx context.Context, id int64) (booking.Type, error) {
	return s.findType(ctx, "id = ?", id)
}

// FindTypeBySlug returns instance.ErrNotFound for an unknown slug.
func (s *Booking) FindTypeBySlug(ctx context.Context, slug string) (booking.Type, error) {
	return s.findType(ctx, "slug = ?", slug)
}

// ListTypes returns the types by name.
func (s *Booking) ListTypes(ctx context.Context, activeOnly bool) ([]booking.Type, error) {
	q := s.db.gorm.WithContext(ctx).Order("name, id")
	if activeOnly {
		q = q.Where("active = ?", true)
	}
	var rows []bookingTypeRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	agents := map[int64][]int64{}
	if len(ids) > 0 {
		var err error
		if agents, err = s.typeAgents(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make([]booking.Type, len(rows))
	for i, r := range rows {
		out[i] = r.domain(agents[r.ID])
	}
	return out, nil
}

type hoursRow struct {
	ID          int64 `gorm:"primaryKey"`
	UserID      int64
	Weekday     int
	StartMinute int
	EndMinute   int
}

func (hoursRow) TableName() string { return "booking_hours" }

// SetHours replaces a user's weekly hours in one transaction.
func (s *Booking) SetHours(ctx context.Context, userID int64, hours []booking.Hours) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM booking_hours WHERE user_id = ?", userID).Error; err != nil {
			return err
		}
		for _, h := range hours {
			row := hoursRow{UserID: userID, Weekday: int(h.Weekday), StartMinute: h.Start, EndMinute: h.End}
			if err := tx.Create(&row).Error; err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// Hours returns the weekly hours of the users, by user, weekday and start.
func (s *Booking) Hours(ctx context.Context, userIDs []int64) ([]booking.Hours, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []hoursRow
	if err := s.db.gorm.WithContext(ctx).Where("user_id IN ?", userIDs).Order("user_id, weekday, start_minute").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]booking.Hours, len(rows))
	for i, r := range rows {
		out[i] = booking.Hours{UserID: r.UserID, Weekday: time.Weekday(r.Weekday), Start: r.StartMinute, End: r.EndMinute}
	}
	return out, nil
}

type dayOffRow struct {
	ID     int64 `gorm:"primaryKey"`
	UserID *int64
	Day    string
	Note   string
}

func (dayOffRow) TableName() string { return "booking_days_off" }

// AddDayOff stores d and sets its ID.
func (s *Booking) AddDayOff(ctx context.Context, d *booking.DayOff) error {
	row := dayOffRow{UserID: d.UserID, Day: d.Day, Note: d.Note}
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	d.ID = row.ID
	return nil
}

// DeleteDayOff returns instance.ErrNotFound for an unknown id.
func (s *Booking) DeleteDayOff(ctx context.Context, id int64) error {
	res := s.db.gorm.WithContext(ctx).Delete(&dayOffRow{}, id)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// DaysOff returns the days off between two dates, inclusive.
func (s *Booking) DaysOff(ctx context.Context, fromDay, toDay string) ([]booking.DayOff, error) {
	var rows []dayOffRow
	if err := s.db.gorm.WithContext(ctx).Where("day >= ? AND day <= ?", fromDay, toDay).Order("day, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]booking.DayOff, len(rows))
	for i, r := range rows {
		out[i] = booking.DayOff{ID: r.ID, UserID: r.UserID, Day: r.Day, Note: r.Note}
	}
	return out, nil
}

type bookingRow struct {
	ID             int64 `gorm:"primaryKey"`
	TypeID         int64
	AgentID        int64
	StartAt        time.Time
	EndAt          time.Time
	BlockedStart   time.Time
	BlockedEnd     time.Time
	Name           string
	Email          string
	Message        string
	Status         string
	Nonce          string
	ReminderSentAt *time.Time
	CancelledAt    *time.Time
	AnonymizedAt   *time.Time
	CreatedAt      time.Time
}

func (bookingRow) TableName() string { return "bookings" }

func (r bookingRow) domain() booking.Booking {
	return booking.Booking{ID: r.ID, TypeID: r.TypeID, AgentID: r.AgentID, Start: r.StartAt.UTC(), End: r.EndAt.UTC(),
		Blocked: booking.Interval{Start: r.BlockedStart.UTC(), End: r.BlockedEnd.UTC()}, Name: r.Name, Email: r.Email, Message: r.Message,
		Status: r.Status, Nonce: r.Nonce, ReminderSent: utcPtr(r.ReminderSentAt), CancelledAt: utcPtr(r.CancelledAt),
		AnonymizedAt: utcPtr(r.AnonymizedAt), CreatedAt: r.CreatedAt.UTC()}
}

// Busy returns the users' confirmed bookings blocking time in [from, to), by blocked start.
func (s *Booking) Busy(ctx context.Context, userIDs []int64, from, to time.Time) (map[int64][]booking.Busy, error) {
	out := map[int64][]booking.Busy{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []bookingRow
	if err := s.db.gorm.WithContext(ctx).Select("id, agent_id, start_at, end_at, blocked_start, blocked_end").
		Where("status = ? AND agent_id IN ? AND blocked_start < ? AND blocked_end > ?", booking.Confirmed, userIDs, to.UTC(), from.UTC()).
		Order("blocked_start, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.AgentID] = append(out[r.AgentID], booking.Busy{BookingID: r.ID, Time: booking.Interval{Start: r.StartAt.UTC(), End: r.EndAt.UTC()},
			Blocked: booking.Interval{Start: r.BlockedStart.UTC(), End: r.BlockedEnd.UTC()}})
	}
	return out, nil
}

// lockAgent serialises bookings of one agent until the transaction ends. SQLite needs
// nothing: its transactions begin with the write lock (_txlock=immediate).
func (s *Booking) lockAgent(tx *gorm.DB, agentID int64) error {
	if s.db.dialect != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(0x5eb0)<<40|agentID).Error
}

// taken tells whether the agent has a confirmed booking (other than skip) in b's way:
// its time within b's buffers, or b's time within its buffers.
func taken(tx *gorm.DB, agentID int64, b *booking.Booking, skip int64) (bool, error) {
	var n int64
	err := tx.Raw(`SELECT COUNT(*) FROM bookings WHERE agent_id = ? AND status = ? AND id <> ?
		AND ((start_at < ? AND end_at > ?) OR (blocked_start < ? AND blocked_end > ?))`,
		agentID, booking.Confirmed, skip, b.Blocked.End.UTC(), b.Blocked.Start.UTC(), b.End.UTC(), b.Start.UTC()).Scan(&n).Error
	return n > 0, err
}

// Insert stores b for the first free agent of agents. Returns booking.ErrSlotTaken.
func (s *Booking) Insert(ctx context.Context, b *booking.Booking, agents []int64) error {
	return s.withFirstFree(ctx, b, agents, 0, func(tx *gorm.DB, agent int64) error {
		row := bookingRow{TypeID: b.TypeID, AgentID: agent, StartAt: b.Start.UTC(), EndAt: b.End.UTC(), BlockedStart: b.Blocked.Start.UTC(),
			BlockedEnd: b.Blocked.End.UTC(), Name: b.Name, Email: b.Email, Message: b.Message, Status: b.Status, Nonce: b.Nonce, CreatedAt: b.CreatedAt.UTC()}
		if err := tx.Create(&row).Error; err != nil {
			return translate(err)
		}
		b.ID = row.ID
		return nil
	})
}

// Move gives b its new time with the first free agent of agents. Returns
// booking.ErrSlotTaken.
func (s *Booking) Move(ctx context.Context, b *booking.Booking, agents []int64) error {
	return s.withFirstFree(ctx, b, agents, b.ID, func(tx *gorm.DB, agent int64) error {
		res := tx.Model(&bookingRow{}).Where("id = ? AND status = ?", b.ID, booking.Confirmed).Updates(map[string]any{"agent_id": agent,
			"start_at": b.Start.UTC(), "end_at": b.End.UTC(), "blocked_start": b.Blocked.Start.UTC(), "blocked_end": b.Blocked.End.UTC(),
			"reminder_sent_at": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return instance.ErrNotFound
		}
		return nil
	})
}

// withFirstFree runs write, in one transaction, for the first of agents who has
// nothing (but booking skip) in b's way, each checked under the agent's lock, and sets
// b.AgentID. Returns booking.ErrSlotTaken when none is free.
func (s *Booking) withFirstFree(ctx context.Context, b *booking.Booking, agents []int64, skip int64, write func(tx *gorm.DB, agent int64) error) error {
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, a := range agents {
			if err := s.lockAgent(tx, a); err != nil {
				return err
			}
			busy, err := taken(tx, a, b, skip)
			if err != nil {
				return err
			}
			if busy {
				continue
			}
			if err := write(tx, a); err != nil {
				return err
			}
			b.AgentID = a
			return nil
		}
		return booking.ErrSlotTaken
	})
}

// FindBooking returns instance.ErrNotFound for an unknown id.
func (s *Booking) FindBooking(ctx context.Context, id int64) (booking.Booking, error) {
	var r bookingRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return booking.Booking{}, translate(err)
	}
	return r.domain(), nil
}

// ListBookings returns bookings starting in the filter's span, by start.
func (s *Booking) ListBookings(ctx context.Context, f booking.Filter) ([]booking.Booking, error) {
	q := s.db.gorm.WithContext(ctx).Order("start_at, id").Limit(f.Limit)
	if !f.From.IsZero() {
		q = q.Where("start_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("start_at < ?", f.To.UTC())
	}
	if f.AgentID != 0 {
		q = q.Where("agent_id = ?", f.AgentID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	var rows []bookingRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]booking.Booking, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// Cancel marks a confirmed booking cancelled. Returns instance.ErrNotFound.
func (s *Booking) Cancel(ctx context.Context, id int64, at time.Time) error {
	res := s.db.gorm.WithContext(ctx).Model(&bookingRow{}).Where("id = ? AND status = ?", id, booking.Confirmed).
		Updates(map[string]any{"status": booking.Cancelled, "cancelled_at": at.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return instance.ErrNotFound
	}
	return nil
}

// DueReminders returns confirmed bookings starting in (now, until] not reminded yet.
func (s *Booking) DueReminders(ctx context.Context, now, until time.Time) ([]booking.Booking, error) {
	var rows []bookingRow
	if err := s.db.gorm.WithContext(ctx).Where("status = ? AND reminder_sent_at IS NULL AND start_at > ? AND start_at <= ?", booking.Confirmed, now.UTC(), until.UTC()).
		Order("start_at").Limit(200).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]booking.Booking, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// MarkReminded records that a booking's reminder went out.
func (s *Booking) MarkReminded(ctx context.Context, id int64, at time.Time) error {
	return s.db.gorm.WithContext(ctx).Model(&bookingRow{}).Where("id = ?", id).Update("reminder_sent_at", at.UTC()).Error
}

// Anonymize erases the personal data of bookings that ended before t.
func (s *Booking) Anonymize(ctx context.Context, endedBefore, at time.Time) (int64, error) {
	res := s.db.gorm.WithContext(ctx).Model(&bookingRow{}).Where("anonymized_at IS NULL AND end_at < ?", endedBefore.UTC()).
		Updates(map[string]any{"name": "", "email": "", "message": "", "anonymized_at": at.UTC()})
	return res.RowsAffected, res.Error
}

// Counts returns bookings per status that started in [from, to).
func (s *Booking) Counts(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.db.gorm.WithContext(ctx).Raw("SELECT status, COUNT(*) AS n FROM bookings WHERE start_at >= ? AND start_at < ? GROUP BY status",
		from.UTC(), to.UTC()).Scan(&rows).Error
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, err
}
