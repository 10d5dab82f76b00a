-- Same schema as the yelb-db init script (microservices/yelb-db), for tests
-- of this module alone.
CREATE TABLE IF NOT EXISTS restaurants (name char(30) PRIMARY KEY, count integer);
INSERT INTO restaurants (name, count) VALUES ('outback', 0), ('bucadibeppo', 0), ('chipotle', 0), ('ihop', 0)
ON CONFLICT (name) DO NOTHING;
