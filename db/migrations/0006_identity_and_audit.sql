CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"subject" text,
	"outcome" text NOT NULL,
	"address" text
);
--> statement-breakpoint
CREATE TABLE "enroll_secret" (
	"singleton" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"secret_hash" text NOT NULL,
	"rotated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "enroll_secret_one_row" CHECK ("enroll_secret"."singleton")
);
