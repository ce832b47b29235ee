package booking

// DemoResource returns the resource `booking seed` creates on an empty
// database: a one-hour consultation room in Paris, open Monday to Saturday.
func DemoResource() Resource {
	return Resource{
		Slug: "consultation", Name: "Consultation room", Description: "A quiet room for one-hour meetings, coffee included.",
		PriceAmount: 5000, Currency: "eur", DurationMinutes: 60, Timezone: "Europe/Paris", Active: true,
		Location:      "12 Rue de Rivoli, 75004 Paris",
		ReminderHours: DefaultReminderHours, CancelUntilHours: DefaultCancelUntilHours,
		RescheduleUntilHours: DefaultRescheduleUntilHours,
		WeeklyHours: []OpenSpan{
			{Weekday: 1, Start: "09:00", End: "17:00"}, {Weekday: 2, Start: "09:00", End: "17:00"},
			{Weekday: 3, Start: "09:00", End: "17:00"}, {Weekday: 4, Start: "09:00", End: "17:00"},
			{Weekday: 5, Start: "09:00", End: "17:00"}, {Weekday: 6, Start: "10:00", End: "14:00"},
		},
	}
}
