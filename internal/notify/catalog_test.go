package notify

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Adding a language is adding files: a kind the language has is rendered in
// it, one it lacks falls back to English, and the language's shared files
// default to English's.
func TestCatalogAddsALanguageFromFiles(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	if err := copyDir(fsys, "templates/en"); err != nil {
		t.Fatal(err)
	}
	locale, err := templateFS.ReadFile("templates/en/locale.json")
	if err != nil {
		t.Fatal(err)
	}
	fsys["templates/fr/locale.json"] = &fstest.MapFile{Data: []byte(strings.NewReplacer(
		`"Friday"`, `"vendredi"`, `"December"`, `"décembre"`, `"decimalMark": "."`, `"decimalMark": ","`,
		`"groupMark": ","`, `"groupMark": " "`, `"money": "{symbol}{amount}"`, `"money": "{amount} {symbol}"`,
	).Replace(string(locale)))}
	fsys["templates/fr/confirmation.txt"] = &fstest.MapFile{Data: []byte(
		`{{define "subject"}}Réservation confirmée : {{.ResourceName}}{{end}}{{define "text"}}Bonjour {{.FirstName}}, {{.When}}, {{.AmountPaid}}{{end}}`)}
	fsys["templates/fr/confirmation.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}<p>Bonjour {{.FirstName}}</p>{{end}}`)}

	cat, err := parseCatalog(fsys)
	if err != nil {
		t.Fatalf("parse catalog: %v", err)
	}
	for _, tc := range []struct {
		lang string
		kind Kind
		want string
	}{
		{"fr", KindConfirmation, "Réservation confirmée"},
		{"fr-CA", KindConfirmation, "Réservation confirmée"},
		{"fr", KindReminder, "Reminder:"},
		{"de", KindConfirmation, "Booking confirmed"},
	} {
		set := cat.lookup(tc.kind, tc.lang)
		var b strings.Builder
		if err := set.text.ExecuteTemplate(&b, "subject", &view{ResourceName: "Court"}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("%s %s: subject %q, want %q…", tc.lang, tc.kind, b.String(), tc.want)
		}
	}
	fr := cat.lookup(KindConfirmation, "fr").locale
	if got := fr.money(5400, "eur"); got != "54,00 €" {
		t.Errorf("French money = %q", got)
	}
}

// A language that gives a kind only one of its two files is an error.
func TestCatalogNeedsBothFilesOfAKind(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	if err := copyDir(fsys, "templates/en"); err != nil {
		t.Fatal(err)
	}
	fsys["templates/fr/reminder.txt"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "text"}}x{{end}}`)}
	if _, err := parseCatalog(fsys); err == nil {
		t.Fatal("parse catalog succeeded, want an error")
	}
}

// The embedded templates parse.
func TestCatalogEmbedded(t *testing.T) {
	t.Parallel()
	if _, err := loadCatalog(); err != nil {
		t.Fatal(err)
	}
}

func copyDir(fsys fstest.MapFS, dir string) error {
	entries, err := templateFS.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := templateFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		fsys[dir+"/"+e.Name()] = &fstest.MapFile{Data: data}
	}
	return nil
}
