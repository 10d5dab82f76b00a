package app

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestDSNQuotesValuesSoPgxReadsThemBack(t *testing.T) {
	password := `p a's\s"w=rd`
	dsn := DSN(map[string]string{"host": "yelb-db", "port": "5432", "user": "postgres", "password": password, "dbname": "yelbdatabase", "sslmode": "disable"})
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %q: %v", dsn, err)
	}
	cc := pc.ConnConfig
	if cc.Password != password || cc.Host != "yelb-db" || cc.Port != 5432 || cc.User != "postgres" || cc.Database != "yelbdatabase" {
		t.Fatalf("round trip lost values: host=%q port=%d user=%q db=%q password=%q", cc.Host, cc.Port, cc.User, cc.Database, cc.Password)
	}
	if cc.TLSConfig != nil {
		t.Fatal("sslmode=disable still configures TLS")
	}
}
