-- The booking service's write transaction (POST /book), as pgbench runs it: one bookings row, its
-- booking_seats rows (where the unique index over live seats decides) and an outbox row, in one
-- transaction. Fresh random UUIDs every time, so rows never collide. Columns:
-- src/boxoffice/booking/models.py, src/boxoffice/core/events/tables.py.
\set seats random(1, 4)
BEGIN;
SELECT gen_random_uuid() AS booking_id, gen_random_uuid() AS showtime_id \gset
INSERT INTO bookings (id, user_id, user_email, showtime_id, booking_code, total_seats,
    total_price, status, payment_status, expires_at, movie_id, movie_title, theater_id,
    theater_name, city, show_date, show_time, show_starts_at, created_at, updated_at)
  VALUES (':booking_id', gen_random_uuid(), 'bench@example.com', ':showtime_id',
    upper(substr(md5(':booking_id'), 1, 12)), :seats, 120000.00 * :seats, 'pending', 'unpaid',
    now() + interval '15 minutes', gen_random_uuid(), 'Bench Premiere', gen_random_uuid(),
    'Bench Hall', 'Hanoi', current_date + 7, '19:00', (current_date + 7) + time '12:00', now(),
    now());
INSERT INTO booking_seats (id, booking_id, showtime_id, seat_id, status, position, seat_row,
    seat_number, seat_type, price)
  SELECT gen_random_uuid(), ':booking_id', ':showtime_id', gen_random_uuid(), 'pending', n - 1,
    'A', n, 'standard', 120000.00
  FROM generate_series(1, :seats) AS n;
INSERT INTO event_outbox (id, name, source, aggregate_id, occurred_at, correlation_id, payload)
  VALUES (gen_random_uuid(), 'booking.created', 'booking', ':booking_id', now(), NULL,
    '{"booking_id": "bench", "status": "pending", "payment_status": "unpaid"}');
END;
