pub mod cloudevent;
pub mod events;
