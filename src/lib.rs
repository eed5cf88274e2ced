pub mod cloudevent;
